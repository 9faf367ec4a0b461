using ActorVmm.Kvm.Memory;

namespace ActorVmm.Devices.Virtio;

/// <summary>What an activated device model gets from its transport.</summary>
public sealed class VirtioContext
{
    private readonly Action<int> _requestProcessing;
    private readonly Action _configChanged;

    public VirtioContext(GuestMemory memory, ulong ackedFeatures, Action<int> requestProcessing, Action configChanged)
    {
        Memory = memory;
        AckedFeatures = ackedFeatures;
        _requestProcessing = requestProcessing;
        _configChanged = configChanged;
    }

    public GuestMemory Memory { get; }

    /// <summary>The features the driver accepted.</summary>
    public ulong AckedFeatures { get; }

    /// <summary>
    /// Asks for <see cref="IVirtioDevice.ProcessQueue"/> on <paramref name="queueIndex"/> later (e.g. host input
    /// arrived, a rate limiter refilled). Safe from any thread; never processes inline on the caller's stack
    /// when a kick handler is installed on the transport.
    /// </summary>
    public void RequestProcessing(int queueIndex) => _requestProcessing(queueIndex);

    /// <summary>The device configuration changed: bumps config_generation and raises a configuration interrupt.</summary>
    public void SignalConfigChanged() => _configChanged();
}
