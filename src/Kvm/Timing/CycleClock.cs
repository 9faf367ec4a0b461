using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.Timing;

/// <summary>
/// The clock exit tracing reads twice per exit: the CPU's time-stamp counter (RDTSC) on x86-64, else
/// <see cref="Stopwatch"/>. A TSC read is a few nanoseconds and never enters the kernel; a Stopwatch read is
/// clock_gettime, which is cheap only while the host kernel's clocksource is the TSC itself — on a host (or nested
/// runner) on HPET or acpi_pm every read is a system call and an emulated device access, about 1.5 µs under the
/// project's nested runner. The TSC is constant-rate on every x86-64 CPU KVM supports well (and under QEMU TCG it is
/// the host's TSC); its rate is calibrated once per process against Stopwatch.
/// <para>
/// <see cref="Now"/> needs no calibration (a raw read); converting ticks to time does, and the first
/// <see cref="NanosecondsPerTick"/>/<see cref="Frequency"/> call calibrates (about 20 ms, sleeping): touch it before a
/// hot path starts. <c>ACTORVMM_CLOCK=stopwatch</c> in the environment forces Stopwatch.
/// </para>
/// </summary>
public static class CycleClock
{
    /// <summary>How long calibration sleeps between its two samples.</summary>
    private const int CalibrationMs = 20;

    /// <summary>rdtsc; shl rdx, 32; or rax, rdx; ret — EDX:EAX as one 64-bit value.</summary>
    private static readonly byte[] ReadTscCode = [0x0F, 0x31, 0x48, 0xC1, 0xE2, 0x20, 0x48, 0x09, 0xD0, 0xC3];

    private static readonly nint ReadTsc = CreateReadTsc();
    private static readonly Lock CalibrationLock = new();
    private static double _nsPerTick;
    private static long _frequency;

    /// <summary>"tsc" or "stopwatch": what <see cref="Now"/> reads.</summary>
    public static string Source => ReadTsc != 0 ? "tsc" : "stopwatch";

    /// <summary>A timestamp in this clock's ticks (monotonic; compare only with other <see cref="Now"/> values).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Now()
    {
        var stub = ReadTsc;
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
            if (ReadTsc == 0)
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
            Volatile.Write(ref _frequency, frequency);
        }
    }

    /// <summary>A (Stopwatch, TSC) pair, the TSC read between two Stopwatch reads and matched to their midpoint.</summary>
    private static (long Stopwatch, long Tsc) Sample()
    {
        var before = Stopwatch.GetTimestamp();
        var tsc = Now();
        var after = Stopwatch.GetTimestamp();
        return (before + (after - before) / 2, tsc);
    }

    /// <summary>Maps the RDTSC stub and returns its address, or 0 (not x86-64, ACTORVMM_CLOCK=stopwatch, or mapping refused).</summary>
    private static nint CreateReadTsc()
    {
        if (RuntimeInformation.ProcessArchitecture != Architecture.X64
            || !OperatingSystem.IsLinux()
            || string.Equals(Environment.GetEnvironmentVariable("ACTORVMM_CLOCK"), "stopwatch", StringComparison.OrdinalIgnoreCase))
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
}
