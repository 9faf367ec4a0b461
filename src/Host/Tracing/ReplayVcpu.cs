using System.Buffers.Binary;
using ActorVmm.Kvm;
using ActorVmm.Actors.Tracing;

namespace ActorVmm.Host.Tracing;

/// <summary>A read during replay that got a different value than the recording.</summary>
/// <param name="Index">Position of the exit in the replayed stream.</param>
public sealed record ReplayMismatch(int Index, TraceEvent Expected, ulong Actual)
{
    public override string ToString() =>
        $"exit #{Index}: {Expected.Kind.Name()} 0x{Expected.Address:x} ({Expected.Device}) size {Expected.Size}: recorded 0x{Expected.Value:x}, replay read 0x{Actual:x}";
}

/// <summary>
/// An <see cref="IVcpu"/> without KVM that plays back a recorded exit stream (the PIO/MMIO exits of one vCPU
/// from a jsonl or Chrome trace) to a <see cref="Vcpu.VcpuActor"/>: writes carry the recorded data, and the value
/// each read got back is checked against the recording. When the stream ends it returns one HLT exit, so the VM
/// powers off. Data of string I/O beyond the first 8 recorded bytes is zero (the trace keeps only 8).
/// </summary>
public sealed class ReplayVcpu : IVcpu
{
    /// <summary>Mismatches kept in <see cref="Mismatches"/>; beyond that they are only counted.</summary>
    public const int MaxKeptMismatches = 1000;

    private readonly TraceEvent[] _exits;
    private readonly List<ReplayMismatch> _mismatches = [];
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _small = new byte[8];
    private byte[] _data = [];
    private int _length;
    private int _next;
    private int _pendingRead = -1;
    private int _mismatchCount;
    private volatile bool _kicked;

    /// <param name="id">The vCPU id.</param>
    /// <param name="exits">The exits to play, in order; non-access events (HLT, interrupts, ...) are skipped.</param>
    public ReplayVcpu(int id, IEnumerable<TraceEvent> exits)
    {
        Id = id;
        _exits = [.. exits.Where(e => e.Kind.IsAccess())];
    }

    /// <summary>The PIO/MMIO exits of <paramref name="vcpu"/> in <paramref name="trace"/>, in time order.</summary>
    public static ReplayVcpu FromTrace(TraceFile trace, int vcpu) =>
        new(vcpu, trace.Events.Where(e => e.Vcpu == vcpu && e.Kind.IsAccess()).OrderBy(e => e.TimeNs));

    public int Id { get; }

    public int Length => _exits.Length;

    /// <summary>Exits played so far.</summary>
    public int Played => Volatile.Read(ref _next);

    /// <summary>How many reads differed from the recording (all of them, also beyond <see cref="MaxKeptMismatches"/>).</summary>
    public int MismatchCount => Volatile.Read(ref _mismatchCount);

    /// <summary>The first <see cref="MaxKeptMismatches"/> reads whose value differed from the recording (read it after <see cref="Finished"/>).</summary>
    public IReadOnlyList<ReplayMismatch> Mismatches
    {
        get
        {
            lock (_mismatches)
            {
                return [.. _mismatches];
            }
        }
    }

    /// <summary>Completes when the whole stream was played and the last read checked.</summary>
    public Task Finished => _finished.Task;

    public bool ImmediateExit { get; set; }

    public Span<byte> ExitData => _data.AsSpan(0, _length);

    public void BindToCurrentThread()
    {
    }

    public VmExit Run()
    {
        if (_pendingRead >= 0)
        {
            Check(_pendingRead);
            _pendingRead = -1;
        }

        _length = 0;
        if (ImmediateExit || _kicked)
        {
            ImmediateExit = false;
            _kicked = false;
            return new VmExit(VmExitKind.Interrupted);
        }

        var index = _next;
        if (index >= _exits.Length)
        {
            _finished.TrySetResult();
            return new VmExit(VmExitKind.Hlt);
        }

        Volatile.Write(ref _next, index + 1);
        var e = _exits[index];
        var size = Math.Clamp(e.Size, 1, 8);
        var count = Math.Max(1, e.Count);
        _length = size * count;
        _data = _length <= _small.Length ? _small : new byte[_length];
        _data.AsSpan(0, _length).Clear();
        var kind = e.Kind switch
        {
            TraceEventKind.PioIn => VmExitKind.IoIn,
            TraceEventKind.PioOut => VmExitKind.IoOut,
            TraceEventKind.MmioRead => VmExitKind.MmioRead,
            _ => VmExitKind.MmioWrite,
        };
        if (e.Kind.IsRead())
        {
            _pendingRead = index;
        }
        else
        {
            Span<byte> value = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(value, e.Value);
            value[..Math.Min(8, _length)].CopyTo(_data);
        }

        return new VmExit(kind, e.Address, size, count);
    }

    public void Kick() => _kicked = true;

    private void Check(int index)
    {
        var e = _exits[index];
        Span<byte> buffer = stackalloc byte[8];
        buffer.Clear();
        _data.AsSpan(0, Math.Min(8, _length)).CopyTo(buffer);
        var actual = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
        if (actual != e.Value && Interlocked.Increment(ref _mismatchCount) <= MaxKeptMismatches)
        {
            lock (_mismatches)
            {
                _mismatches.Add(new ReplayMismatch(index, e, actual));
            }
        }
    }
}
