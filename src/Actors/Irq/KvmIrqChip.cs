using ActorVmm.Kvm;
using ActorVmm.Kvm.Linux;

namespace ActorVmm.Actors.Irq;

/// <summary>
/// Interrupt lines on KVM's in-kernel irqchip through irqfds (KVM_IRQFD). An edge line is one eventfd: a write
/// raises the GSI. A level line also gets a resamplefd: the irqfd write asserts the GSI until the guest EOIs;
/// then KVM de-asserts it and signals the resamplefd, and a small thread (<c>irq-resample-GSI</c>, blocked in
/// poll, no CPU while idle) writes the irqfd again while a device still holds the line high.
/// The eventfds are created, registered, owned and closed here; devices only ever see an
/// <see cref="ActorVmm.Devices.IInterruptLine"/> whose hot path is one eventfd write.
/// <para>
/// MSI vectors (<see cref="IMsiChipBackend"/>): each vector is a GSI from 24 up with an irqfd on it; the guest's
/// message becomes that GSI's MSI route in the VM's routing table (<see cref="KvmMsiRoutes"/>), so a trigger is one
/// eventfd write that KVM turns into the programmed message.
/// </para>
/// </summary>
public sealed class KvmIrqChip(KvmVm vm) : IIrqChipBackend, IMsiChipBackend
{
    private readonly KvmMsiRoutes _routes = new(vm);

    /// <summary>Host CPUs the level lines' resample threads are pinned to (null: not pinned).</summary>
    public CpuSet? ResampleAffinity { get; init; }

    /// <summary>MSI routes programmed now (diagnostics, tests).</summary>
    public int MsiRoutes => _routes.Count;

    public IMsiVectorsBackend CreateMsiVectors(int count)
    {
        var first = _routes.Allocate(count);
        var fds = new List<EventFd>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var fd = EventFd.Create();
                fds.Add(fd);
                vm.RegisterIrqfd(fd, first + (uint)i);
            }
        }
        catch
        {
            for (var i = 0; i < fds.Count; i++)
            {
                try
                {
                    vm.UnregisterIrqfd(fds[i], first + (uint)i);
                }
                catch (Exception)
                {
                    // Not registered (the failing one) or the VM is gone; closing the eventfd detaches it anyway.
                }

                fds[i].Dispose();
            }

            throw;
        }

        return new MsiVectors(vm, _routes, first, fds);
    }

    public IIrqLineBackend CreateLine(uint gsi, bool level)
    {
        var irqfd = EventFd.Create();
        EventFd? resample = null;
        try
        {
            resample = level ? EventFd.Create() : null;
            vm.RegisterIrqfd(irqfd, gsi, resample);
            return new Line(vm, gsi, irqfd, resample, ResampleAffinity);
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
        private readonly KvmVm _vm;
        private readonly EventFd _irqfd;
        private readonly EventFd? _resample;
        private readonly Thread? _resampler;
        private readonly CpuSet? _affinity;
        private volatile bool _asserted;
        private volatile bool _disposed;

        public Line(KvmVm vm, uint gsi, EventFd irqfd, EventFd? resample, CpuSet? affinity)
        {
            _vm = vm;
            _affinity = affinity;
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
            _ = ThreadScheduling.TryPinCurrentThread(_affinity);
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

    private sealed class MsiVectors : IMsiVectorsBackend
    {
        private readonly KvmVm _vm;
        private readonly KvmMsiRoutes _routes;
        private readonly List<EventFd> _fds;
        private readonly bool[] _routed;
        private readonly uint[] _gsis;
        private volatile bool _disposed;

        public MsiVectors(KvmVm vm, KvmMsiRoutes routes, uint first, List<EventFd> fds)
        {
            _vm = vm;
            _routes = routes;
            _fds = fds;
            _routed = new bool[fds.Count];
            _gsis = Enumerable.Range(0, fds.Count).Select(i => first + (uint)i).ToArray();
        }

        public int VectorCount => _fds.Count;

        public IReadOnlyList<uint> Gsis => _gsis;

        public bool SetMessage(int vector, ActorVmm.Devices.MsiMessage message)
        {
            if (_disposed || (uint)vector >= (uint)_gsis.Length)
            {
                return false;
            }

            var routed = _routes.Set(_gsis[vector], message);
            Volatile.Write(ref _routed[vector], routed);
            return routed;
        }

        public void ClearMessage(int vector)
        {
            if (_disposed || (uint)vector >= (uint)_gsis.Length)
            {
                return;
            }

            Volatile.Write(ref _routed[vector], false);
            _routes.Remove(_gsis[vector]);
        }

        public void Trigger(int vector)
        {
            if (_disposed || (uint)vector >= (uint)_gsis.Length || !Volatile.Read(ref _routed[vector]))
            {
                return;
            }

            try
            {
                _fds[vector].Write(1);
            }
            catch (ObjectDisposedException)
            {
                // Raced with Dispose: the VM is going away.
            }
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            for (var i = 0; i < _fds.Count; i++)
            {
                _routes.Remove(_gsis[i]);
                try
                {
                    _vm.UnregisterIrqfd(_fds[i], _gsis[i]);
                }
                catch (Exception)
                {
                    // The VM fd may already be closed; closing the eventfd detaches the irqfd anyway.
                }

                _fds[i].Dispose();
            }
        }
    }
}
