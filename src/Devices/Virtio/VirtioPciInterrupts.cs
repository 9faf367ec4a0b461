using ActorVmm.Devices.Pci;

namespace ActorVmm.Devices.Virtio;

/// <summary>
/// Interrupt delivery of a virtio-pci function: the ISR status byte, the INTx line it drives and the MSI-X vectors
/// that replace it while the guest has MSI-X enabled. Not thread-safe: the transport calls it under its lock.
/// </summary>
internal sealed class VirtioPciInterrupts
{
    private readonly PciConfiguration _configuration;
    private readonly IInterruptLine _line;
    private readonly MsixCapability? _msix;
    private byte _isr;
    private bool _lineLevel;

    public VirtioPciInterrupts(PciConfiguration configuration, IInterruptLine line, MsixCapability? msix)
    {
        _configuration = configuration;
        _line = line;
        _msix = msix;
    }

    public byte Isr => _isr;

    /// <summary>The guest reads ISR: it gets the bits and they clear, dropping INTx.</summary>
    public byte ReadIsr()
    {
        var isr = _isr;
        _isr = 0;
        UpdateLine();
        return isr;
    }

    /// <summary>Used buffers on a queue mapped to <paramref name="vector"/>: that vector (none if NO_VECTOR), else INTx.</summary>
    public void SignalQueue(ushort vector)
    {
        if (_msix is { Enabled: true } msix)
        {
            if (vector != VirtioPciLayout.NoVector)
            {
                msix.Notify(vector);
            }

            return;
        }

        Raise(VirtioPciLayout.IsrQueue);
    }

    /// <summary>A configuration change: ISR bit 1 is set either way (virtio 4.1.4.5), then the config vector or INTx.</summary>
    public void SignalConfig(ushort vector)
    {
        Raise(VirtioPciLayout.IsrConfig);
        if (_msix is { Enabled: true } msix && vector != VirtioPciLayout.NoVector)
        {
            msix.Notify(vector);
        }
    }

    /// <summary>INTx: high while ISR is non-zero, unless INTx is disabled or MSI-X is enabled.</summary>
    public void UpdateLine()
    {
        var intx = _isr != 0 && !(_msix?.Enabled ?? false);
        _configuration.InterruptStatus = intx;
        var level = intx && !_configuration.InterruptDisabled;
        if (level != _lineLevel)
        {
            _lineLevel = level;
            _line.SetLevel(level);
        }
    }

    /// <summary>Device reset: ISR clears (the caller updates the line).</summary>
    public void Clear() => _isr = 0;

    /// <summary>Takes a saved ISR; the line follows on <see cref="ResyncLine"/>.</summary>
    public void RestoreIsr(byte isr) => _isr = isr;

    /// <summary>Drives the line from ISR as if it had been low (after a restore, whatever the line was before).</summary>
    public void ResyncLine()
    {
        _lineLevel = false;
        UpdateLine();
    }

    private void Raise(byte bits)
    {
        _isr |= bits;
        UpdateLine();
    }
}
