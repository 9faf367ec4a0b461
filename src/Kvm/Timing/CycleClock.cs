using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.Timing;

/// <summary>
/// The clock exit tracing reads twice per exit: the CPU's time-stamp counter (RDTSC) on x86-64 Linux, else
/// <see cref="Stopwatch"/>. A TSC read never enters the kernel; a Stopwatch read is clock_gettime, which is a system
/// call whenever the host's clocksource is not the TSC (HPET, acpi_pm). The TSC is constant-rate on the x86-64 CPUs
/// KVM supports; its rate is calibrated once per process against Stopwatch.
/// <para>
/// The program chooses the source once with <see cref="Configure"/> before the first read; unconfigured, it is
/// <see cref="CycleClockSource.Tsc"/>. <see cref="Now"/> needs no calibration (a raw read); the first
/// <see cref="NanosecondsPerTick"/>/<see cref="Frequency"/> call calibrates (about 20 ms, sleeping): touch it before a
/// hot path starts. <see cref="ReadCostNanoseconds"/> tells callers what a read costs, so they can read it less often.
/// </para>
/// </summary>
public static class CycleClock
{
    /// <summary>How long calibration sleeps between its two samples.</summary>
    private const int CalibrationMs = 20;

    /// <summary>rdtsc; shl rdx, 32; or rax, rdx; ret — EDX:EAX as one 64-bit value.</summary>
    private static readonly byte[] ReadTscCode = [0x0F, 0x31, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3];

    private static readonly Lock ChoiceLock = new();
    private static readonly Lock CalibrationLock = new();
    private static CycleClockSource _choice = CycleClockSource.Tsc;
    private static bool _inUse;
    private static double _nsPerTick;
    private static long _frequency;
    private static double _readCostNs;

    /// <summary>
    /// Chooses what the clock reads. Call it once at start-up, before anything reads the clock; choosing again
    /// the source already in use does nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">The clock is already in use with the other source.</exception>
    public static void Configure(CycleClockSource source)
    {
        lock (ChoiceLock)
        {
            if (_inUse && source != _choice)
            {
                throw new InvalidOperationException(
                    $"the cycle clock is already in use with {_choice}; configure it before the first read");
            }

            _choice = source;
        }
    }

    /// <summary>"tsc" or "stopwatch": what <see cref="Now"/> reads.</summary>
    public static string Source => Stub.ReadTsc != 0 ? "tsc" : "stopwatch";

    /// <summary>A timestamp in this clock's ticks (monotonic; compare only with other <see cref="Now"/> values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Now()
    {
        var stub = Stub.ReadTsc;
        if (stub != 0)
        {
            // SAFETY: the stub is ten bytes of position-independent code in a read+execute page this class mapped
            // once and never unmaps; it touches only RAX and RDX (caller-saved) and the stack's return address.
            unsafe
            {
                return ((delegate* unmanaged[SuppressGCTransition]<long>)stub)();
            }
        }

        return Stopwatch.GetTimestamp();
    }

    /// <summary>Ticks per second (calibrates on first use when the source is the TSC).</summary>
    public static long Frequency
    {
        get
        {
            Calibrate();
            return _frequency;
        }
    }

    /// <summary>Nanoseconds per tick (calibrates on first use when the source is the TSC).</summary>
    public static double NanosecondsPerTick
    {
        get
        {
            Calibrate();
            return _nsPerTick;
        }
    }

    /// <summary>What one <see cref="Now"/> costs here, measured at calibration (ns).</summary>
    public static double ReadCostNanoseconds
    {
        get
        {
            Calibrate();
            return _readCostNs;
        }
    }

    /// <summary>Whether the CPU says it runs under QEMU's TCG (the emulator, not KVM).</summary>
    public static bool UnderQemuTcg()
    {
        if (!X86Base.IsSupported)
        {
            return false;
        }

        var (_, ebx, ecx, edx) = X86Base.CpuId(0x4000_0000, 0);
        Span<byte> signature = stackalloc byte[12];
        BinaryPrimitives.WriteInt32LittleEndian(signature, ebx);
        BinaryPrimitives.WriteInt32LittleEndian(signature[4..], ecx);
        BinaryPrimitives.WriteInt32LittleEndian(signature[8..], edx);
        return signature.SequenceEqual("TCGTCGTCGTCG"u8);
    }

    /// <summary>Converts a tick difference to nanoseconds.</summary>
    public static long ToNanoseconds(long ticks) => (long)(ticks * NanosecondsPerTick);

    private static void Calibrate()
    {
        if (Volatile.Read(ref _frequency) != 0)
        {
            return;
        }

        lock (CalibrationLock)
        {
            if (_frequency != 0)
            {
                return;
            }

            long frequency;
            if (Stub.ReadTsc == 0)
            {
                frequency = Stopwatch.Frequency;
            }
            else
            {
                var (sw0, tsc0) = Sample();
                Thread.Sleep(CalibrationMs);
                var (sw1, tsc1) = Sample();
                var seconds = (double)(sw1 - sw0) / Stopwatch.Frequency;
                frequency = (long)((tsc1 - tsc0) / seconds);
            }

            _nsPerTick = 1e9 / frequency;
            _readCostNs = MeasureReadCost();
            Volatile.Write(ref _frequency, frequency);
        }
    }

    /// <summary>The cheapest of three passes of 1000 reads (the first pass also pays for cold code and pages).</summary>
    private static double MeasureReadCost()
    {
        const int reads = 1000;
        long sink = 0;
        var best = double.MaxValue;
        for (var pass = 0; pass < 3; pass++)
        {
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < reads; i++)
            {
                sink += Now();
            }

            best = Math.Min(best, Stopwatch.GetElapsedTime(started).TotalNanoseconds / reads);
        }

        GC.KeepAlive(sink);
        return best;
    }

    /// <summary>A (Stopwatch, TSC) pair, the TSC read between two Stopwatch reads and matched to their midpoint.</summary>
    private static (long Stopwatch, long Tsc) Sample()
    {
        var before = Stopwatch.GetTimestamp();
        var tsc = Now();
        var after = Stopwatch.GetTimestamp();
        return (before + (after - before) / 2, tsc);
    }

    /// <summary>
    /// Maps the RDTSC stub and returns its address, or 0 (Stopwatch chosen, not x86-64 Linux, or mapping refused).
    /// Fixes the choice: <see cref="Configure"/> can no longer change it.
    /// </summary>
    private static nint CreateReadTsc()
    {
        CycleClockSource choice;
        lock (ChoiceLock)
        {
            _inUse = true;
            choice = _choice;
        }

        if (choice == CycleClockSource.Stopwatch
            || RuntimeInformation.ProcessArchitecture != Architecture.X64
            || !OperatingSystem.IsLinux())
        {
            return 0;
        }

        const nuint pageSize = 4096;
        var page = Libc.Mmap(0, pageSize, Libc.ProtRead | Libc.ProtWrite, Libc.MapPrivate | Libc.MapAnonymous, -1, 0);
        if (page == Libc.MapFailed)
        {
            return 0;
        }

        // SAFETY: page is a fresh private read+write mapping of pageSize bytes; the stub is shorter than a page.
        unsafe
        {
            new ReadOnlySpan<byte>(ReadTscCode).CopyTo(new Span<byte>((void*)page, ReadTscCode.Length));
        }

        if (Libc.Mprotect(page, pageSize, Libc.ProtRead | Libc.ProtExec) != 0)
        {
            _ = Libc.Munmap(page, pageSize);
            return 0;
        }

        return page;
    }

    /// <summary>Holds the stub address; its initializer runs on the first read, after start-up configuration.</summary>
    private static class Stub
    {
        public static readonly nint ReadTsc = CreateReadTsc();
    }
}
