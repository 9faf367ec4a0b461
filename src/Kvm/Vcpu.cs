using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm;

// One file over 400 lines: every vCPU ioctl and the kvm_run mapping belong to the one fd they act on (the snapshot
// state ioctls are in Vcpu.State.cs).

/// <summary>
/// One KVM vCPU: its fd, its kvm_run mapping, register access and the run loop's exit decoding.
/// </summary>
/// <remarks>
/// Kicking uses a signal without a handler: <see cref="BindToCurrentThread"/> blocks <see cref="KickSignal"/>
/// on the vCPU thread and gives KVM_RUN a signal mask without it (KVM_SET_SIGNAL_MASK), so the signal can
/// only arrive inside KVM_RUN, which then returns EINTR and leaves the signal pending; <see cref="Run"/>
/// drains it with sigtimedwait. <see cref="Kick"/> sets kvm_run.immediate_exit before sending the signal,
/// so a kick that lands outside KVM_RUN makes the next KVM_RUN return at once: no kick is lost.
/// Dispose a vCPU only after its thread has stopped running it, and call <see cref="UnbindFromCurrentThread"/>
/// (or <see cref="Dispose"/>) before the bound thread exits.
/// </remarks>
public sealed partial class Vcpu : IVcpu, IDisposable
{
    /// <summary>SIGUSR2: neither CoreCLR (SIGRTMIN for activation injection) nor System.Native handles it.</summary>
    public const int KickSignal = Libc.SigUsr2;

    internal const int MmioDataOffset = 40;

    private readonly KvmFd _fd;
    private readonly int _mmapSize;
    private readonly Lock _kickLock = new();
    private nint _run;
    private nuint _thread;
    private int _boundManagedThreadId;
    private int _exitDataOffset;
    private int _exitDataLength;

    internal Vcpu(int id, KvmFd fd, int mmapSize, int xsaveSize = KvmXsave.Size)
    {
        if (mmapSize < Unsafe.SizeOf<KvmRun>())
        {
            throw new KvmException(KvmIoctls.GetVcpuMmapSize.Name, $"kvm_run mapping of {mmapSize} bytes is smaller than kvm_run");
        }

        Id = id;
        ApicId = id;
        XsaveSize = Math.Max(xsaveSize, KvmXsave.Size);
        _fd = fd;
        _mmapSize = mmapSize;
        var run = Libc.Mmap(0, (nuint)mmapSize, Libc.ProtRead | Libc.ProtWrite, Libc.MapShared, fd, 0);
        if (run == Libc.MapFailed)
        {
            throw new KvmException("mmap(kvm_run)", Marshal.GetLastPInvokeError());
        }

        _run = run;
    }

    /// <summary>The VMM's index of this vCPU (0 .. count - 1): actor names, snapshots, logs.</summary>
    public int Id { get; }

    /// <summary>The KVM vCPU id, which KVM makes the initial APIC id (a topology's ids may have gaps).</summary>
    public int ApicId { get; internal init; }

    /// <inheritdoc/>
    public Span<byte> ExitData
    {
        get
        {
            var run = _run;
            if (_exitDataLength == 0 || run == 0)
            {
                return default;
            }

            // SAFETY: offset and length were checked against the mapping size when the exit was decoded.
            unsafe
            {
                return new Span<byte>((byte*)run + _exitDataOffset, _exitDataLength);
            }
        }
    }

    /// <inheritdoc/>
    public bool ImmediateExit
    {
        get => Volatile.Read(ref RunRef.ImmediateExit) != 0;
        set => Volatile.Write(ref RunRef.ImmediateExit, value ? (byte)1 : (byte)0);
    }

    private ref KvmRun RunRef
    {
        get
        {
            var run = _run;
            ObjectDisposedException.ThrowIf(run == 0, this);

            // SAFETY: run points to a live mapping of at least sizeof(kvm_run) bytes (checked in the constructor).
            unsafe
            {
                return ref Unsafe.AsRef<KvmRun>((void*)run);
            }
        }
    }

    /// <inheritdoc/>
    public void BindToCurrentThread()
    {
        ObjectDisposedException.ThrowIf(_run == 0, this);
        Span<byte> block = stackalloc byte[Libc.SigSetBytes];
        Span<byte> previous = stackalloc byte[Libc.SigSetBytes];
        block.Clear();
        Libc.SigAdd(block, KickSignal);
        int error;

        // SAFETY: both buffers are glibc sigset_t sized stack buffers.
        unsafe
        {
            fixed (byte* set = block)
            fixed (byte* old = previous)
            {
                error = Libc.PthreadSigmask(Libc.SigBlock, set, old);
            }
        }

        if (error != 0)
        {
            throw new KvmException("pthread_sigmask", error);
        }

        // KVM_RUN runs with this thread's mask minus the kick signal: the signal is deliverable only in the guest.
        Span<byte> mask = stackalloc byte[4 + Libc.KernelSigSetBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(mask, Libc.KernelSigSetBytes);
        previous[..Libc.KernelSigSetBytes].CopyTo(mask[4..]);
        Libc.SigDel(mask[4..], KickSignal);
        KvmIoctl.Invoke(_fd, KvmIoctls.SetSignalMask, mask);

        lock (_kickLock)
        {
            _thread = Libc.PthreadSelf();
            _boundManagedThreadId = Environment.CurrentManagedThreadId;
        }
    }

    /// <summary>Forgets the bound thread (call on it before it exits); kicks then only set immediate_exit.</summary>
    public void UnbindFromCurrentThread()
    {
        lock (_kickLock)
        {
            _thread = 0;
            _boundManagedThreadId = 0;
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// EINTR caused by a kick (or by <see cref="ImmediateExit"/>) returns <see cref="VmExitKind.Interrupted"/> and
    /// clears immediate_exit; EINTR caused by any other signal re-enters the guest.
    /// </remarks>
    public VmExit Run()
    {
        if (_boundManagedThreadId != Environment.CurrentManagedThreadId)
        {
            throw new InvalidOperationException(
                $"vCPU {Id}: Run must be called on the thread that called BindToCurrentThread");
        }

        _exitDataLength = 0;
        while (true)
        {
            var result = KvmIoctl.TryInvoke(_fd, KvmIoctls.Run);
            if (result >= 0)
            {
                return Decode();
            }

            if (result == -Libc.EAgain)
            {
                // An AP still waiting for INIT/SIPI (KVM_MP_STATE_UNINITIALIZED) returns EAGAIN after each wake-up
                // that did not start it; KVM blocked in the kernel before returning, so re-entering does not spin.
                // A kick still ends the wait: it arrives as EINTR, or as immediate_exit on the next entry.
                if (Volatile.Read(ref RunRef.ImmediateExit) == 0)
                {
                    continue;
                }
            }
            else if (result != -Libc.EIntr)
            {
                throw KvmIoctl.Error(KvmIoctls.Run, -result);
            }

            // Clear immediate_exit first, then drain the signal: a kick landing in between leaves its signal
            // (drained now, so this return answers it) or its immediate_exit (so the next run returns at once).
            var kicked = Interlocked.Exchange(ref RunRef.ImmediateExit, 0) != 0;
            kicked |= DrainKickSignal();
            if (kicked)
            {
                return new VmExit(VmExitKind.Interrupted);
            }
        }
    }

    /// <inheritdoc/>
    public void Kick()
    {
        lock (_kickLock)
        {
            if (_run == 0)
            {
                return;
            }

            Volatile.Write(ref RunRef.ImmediateExit, 1);
            Interlocked.MemoryBarrier();
            if (_thread != 0)
            {
                // ESRCH (thread gone) leaves nothing to interrupt; immediate_exit covers the next run.
                _ = Libc.PthreadKill(_thread, KickSignal);
            }
        }
    }

    public KvmRegs GetRegs() => GetState<KvmRegs>(KvmIoctls.GetRegs);

    public void SetRegs(in KvmRegs regs) => SetState(KvmIoctls.SetRegs, regs);

    public KvmSregs GetSregs() => GetState<KvmSregs>(KvmIoctls.GetSregs);

    public void SetSregs(in KvmSregs sregs) => SetState(KvmIoctls.SetSregs, sregs);

    public KvmFpu GetFpu() => GetState<KvmFpu>(KvmIoctls.GetFpu);

    public void SetFpu(in KvmFpu fpu) => SetState(KvmIoctls.SetFpu, fpu);

    /// <summary>KVM_GET_XSAVE (the first 4 KiB of the guest's XSAVE area).</summary>
    public KvmXsave GetXsave() => GetState<KvmXsave>(KvmIoctls.GetXsave);

    /// <summary>KVM_SET_XSAVE. Unlike KVM_SET_FPU this also sets MXCSR.</summary>
    public void SetXsave(in KvmXsave xsave) => SetState(KvmIoctls.SetXsave, xsave);

    public KvmLapicState GetLapic() => GetState<KvmLapicState>(KvmIoctls.GetLapic);

    public void SetLapic(in KvmLapicState lapic) => SetState(KvmIoctls.SetLapic, lapic);

    public uint GetMpState()
    {
        var state = default(KvmMpState);
        KvmIoctl.Invoke(_fd, KvmIoctls.GetMpState, ref state);
        return state.MpState;
    }

    public void SetMpState(uint mpState)
    {
        var state = new KvmMpState { MpState = mpState };
        KvmIoctl.Invoke(_fd, KvmIoctls.SetMpState, ref state);
    }

    /// <summary>KVM_SET_CPUID2: the CPUID table the guest sees (set before the first run).</summary>
    public void SetCpuid2(ReadOnlySpan<KvmCpuidEntry2> entries)
    {
        var entryBytes = MemoryMarshal.AsBytes(entries);
        var buffer = new byte[8 + entryBytes.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)entries.Length);
        entryBytes.CopyTo(buffer.AsSpan(8));
        KvmIoctl.Invoke(_fd, KvmIoctls.SetCpuid2, buffer);
    }

    /// <summary>KVM_SET_MSRS: all entries must be accepted, otherwise the first refused MSR is named.</summary>
    public void SetMsrs(ReadOnlySpan<KvmMsrEntry> entries)
    {
        var buffer = MsrBuffer(entries);
        var written = KvmIoctl.Invoke(_fd, KvmIoctls.SetMsrs, buffer);
        if (written != entries.Length)
        {
            throw new KvmException(KvmIoctls.SetMsrs.Name,
                $"KVM accepted {written} of {entries.Length} MSRs; MSR 0x{entries[written].Index:x} was refused");
        }
    }

    /// <summary>KVM_GET_MSRS: fills <see cref="KvmMsrEntry.Data"/> of each entry by its index; returns how many were read.</summary>
    public int GetMsrs(Span<KvmMsrEntry> entries)
    {
        var buffer = MsrBuffer(entries);
        var read = KvmIoctl.Invoke(_fd, KvmIoctls.GetMsrs, buffer);
        MemoryMarshal.Cast<byte, KvmMsrEntry>(buffer.AsSpan(8))[..Math.Min(read, entries.Length)]
            .CopyTo(entries);
        return read;
    }

    /// <summary>
    /// KVM_GET_STATS_FD: this vCPU's binary statistics (exits, io_exits, mmio_exits, halt_exits, ...). The stats fd
    /// keeps the VM alive and stays readable after this vCPU is disposed; dispose it when done.
    /// </summary>
    public KvmStatsFd OpenStats() => KvmStatsFd.Open(_fd);

    private T GetState<T>(IoctlRequest request)
        where T : unmanaged => KvmIoctl.Get<T>(_fd, request);

    private void SetState<T>(IoctlRequest request, in T state)
        where T : unmanaged => KvmIoctl.Set(_fd, request, state);

    public void Dispose()
    {
        lock (_kickLock)
        {
            if (_run != 0)
            {
                _ = Libc.Munmap(_run, (nuint)_mmapSize);
                _run = 0;
            }

            _thread = 0;
            _exitDataLength = 0;
        }

        _fd.Dispose();
    }

    private static byte[] MsrBuffer(ReadOnlySpan<KvmMsrEntry> entries)
    {
        var entryBytes = MemoryMarshal.AsBytes(entries);
        var buffer = new byte[8 + entryBytes.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, (uint)entries.Length);
        entryBytes.CopyTo(buffer.AsSpan(8));
        return buffer;
    }

    private static bool DrainKickSignal()
    {
        Span<byte> set = stackalloc byte[Libc.SigSetBytes];
        set.Clear();
        Libc.SigAdd(set, KickSignal);
        var drained = false;

        // SAFETY: a sigset_t-sized stack buffer and a zero timespec; no siginfo is requested.
        unsafe
        {
            fixed (byte* p = set)
            {
                var zero = default(Libc.Timespec);
                while (true)
                {
                    var signal = Libc.SigTimedWait(p, null, &zero);
                    if (signal == KickSignal)
                    {
                        drained = true;
                        continue;
                    }

                    if (signal < 0 && Marshal.GetLastPInvokeError() == Libc.EIntr)
                    {
                        continue;
                    }

                    return drained;
                }
            }
        }
    }

    private VmExit Decode()
    {
        _exitDataLength = 0;
        var exit = DecodeExit(ref RunRef, _mmapSize, out var offset, out var length);
        _exitDataOffset = offset;
        _exitDataLength = length;
        return exit;
    }

    /// <summary>
    /// Decodes the exit in <paramref name="run"/>; the data bytes of an I/O or MMIO exit lie at
    /// [<paramref name="dataOffset"/>, +<paramref name="dataLength"/>) of the mapping, checked against <paramref name="mmapSize"/>.
    /// </summary>
    internal static VmExit DecodeExit(ref KvmRun run, int mmapSize, out int dataOffset, out int dataLength)
    {
        dataOffset = 0;
        dataLength = 0;
        var reason = Volatile.Read(ref run.ExitReason);
        switch (reason)
        {
            case KvmRun.ExitIo:
            {
                var io = run.Io;
                var length = (ulong)io.Size * io.Count;
                if (io.Size is not (1 or 2 or 4) || length == 0 || io.DataOffset > (ulong)mmapSize
                    || length > (ulong)mmapSize - io.DataOffset)
                {
                    throw new KvmException(KvmIoctls.Run.Name,
                        $"I/O exit data (offset 0x{io.DataOffset:x}, {io.Size} x {io.Count} bytes) lies outside the {mmapSize}-byte kvm_run mapping");
                }

                dataOffset = (int)io.DataOffset;
                dataLength = (int)length;
                var kind = io.Direction == KvmRunIo.DirectionIn ? VmExitKind.IoIn : VmExitKind.IoOut;
                return new VmExit(kind, io.Port, io.Size, (int)io.Count);
            }

            case KvmRun.ExitMmio:
            {
                var len = run.Mmio.Len;
                if (len is 0 or > 8)
                {
                    throw new KvmException(KvmIoctls.Run.Name, $"MMIO exit of {len} bytes (at most 8 fit in kvm_run.mmio.data)");
                }

                dataOffset = MmioDataOffset;
                dataLength = (int)len;
                var kind = run.Mmio.IsWrite != 0 ? VmExitKind.MmioWrite : VmExitKind.MmioRead;
                return new VmExit(kind, run.Mmio.PhysAddr, (int)len);
            }

            case KvmRun.ExitHlt:
                return new VmExit(VmExitKind.Hlt);
            case KvmRun.ExitShutdown:
                return new VmExit(VmExitKind.Shutdown);
            case KvmRun.ExitSystemEvent:
                return new VmExit(VmExitKind.SystemEvent, Detail: run.SystemEvent.Type);
            case KvmRun.ExitInternalError:
                return new VmExit(VmExitKind.InternalError, Detail: run.Internal.Suberror);
            case KvmRun.ExitFailEntry:
                return new VmExit(VmExitKind.FailEntry, Detail: run.FailEntry.HardwareEntryFailureReason);
            case KvmRun.ExitIntr:
                return new VmExit(VmExitKind.Interrupted);
            default:
                return new VmExit(VmExitKind.Unknown, Detail: reason);
        }
    }
}
