using ActorVmm.Kvm;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// Interrupt lines on KVM's in-kernel irqchip through irqfds (KVM_IRQFD). An edge line is one eventfd: a write
/// raises the GSI. A level line also gets a resamplefd: the irqfd write asserts the GSI until the guest EOIs;
/// then KVM de-asserts it and signals the resamplefd, and a small thread (<c>irq-resample-GSI</c>, blocked in
/// poll, no CPU while idle) writes the irqfd again while a device still holds the line high.
/// The eventfds are created, registered, owned and closed here; devices only ever see an
/// <see cref="ActorVmm.Devices.IInterruptLine"/> whose hot path is one eventfd write.
/// </summary>
public sealed class KvmIrqChip(VirtualMachine vm) : IIrqChipBackend
{
    public IIrqLineBackend CreateLine(uint gsi, bool level)
    {
        var irqfd = EventFd.Create();
        EventFd? resample = null;
        try
        {
            resample = level ? EventFd.Create() : null;
            vm.RegisterIrqfd(irqfd, gsi, resample);
            return new Line(vm, gsi, irqfd, resample);
        }
        catch
        {
            irqfd.Dispose();
            resample?.Dispose();
            throw;
        }
    }

    private sealed class Line : IIrqLineBackend
    {
        private readonly VirtualMachine _vm;
        private readonly EventFd _irqfd;
        private readonly EventFd? _resample;
        private readonly Thread? _resampler;
        private volatile bool _asserted;
        private volatile bool _disposed;

        public Line(VirtualMachine vm, uint gsi, EventFd irqfd, EventFd? resample)
        {
            _vm = vm;
            Gsi = gsi;
            _irqfd = irqfd;
            _resample = resample;
            if (resample is not null)
            {
                _resampler = new Thread(ResampleLoop) { IsBackground = true, Name = $"irq-resample-{gsi}" };
                _resampler.Start();
            }
        }

        public uint Gsi { get; }

        public bool IsLevel => _resample is not null;

        public void Trigger()
        {
            if (!_disposed)
            {
                Fire();
            }
        }

        public void SetLevel(bool asserted)
        {
            _asserted = asserted;

            // Lowering needs no action: KVM de-asserts at the EOI and the resampler sees the line low.
            if (asserted && !_disposed)
            {
                Fire();
            }
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                _vm.UnregisterIrqfd(_irqfd, Gsi);
            }
            catch (Exception)
            {
                // The VM fd may already be closed; closing the eventfd below detaches the irqfd anyway.
            }

            if (_resample is not null)
            {
                // Wake the resampler so it sees _disposed and exits before its fd is closed.
                _resample.Write(1);
                _resampler!.Join(TimeSpan.FromSeconds(5));
                _resample.Dispose();
            }

            _irqfd.Dispose();
        }

        private void Fire()
        {
            try
            {
                _irqfd.Write(1);
            }
            catch (ObjectDisposedException)
            {
                // Raced with Dispose: the VM is going away.
            }
        }

        private void ResampleLoop()
        {
            while (!_disposed)
            {
                _resample!.Read();
                if (!_disposed && _asserted)
                {
                    Fire();
                }
            }
        }
    }
}
