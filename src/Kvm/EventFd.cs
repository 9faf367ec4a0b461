using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm;

/// <summary>
/// A Linux eventfd (always EFD_CLOEXEC | EFD_NONBLOCK), for irqfd / resamplefd / ioeventfd. Reads never block
/// except <see cref="Read"/> and <see cref="WaitReadable"/>, which wait with poll(2).
/// </summary>
public sealed class EventFd : SafeHandle
{
    public EventFd()
        : base(-1, ownsHandle: true)
    {
    }

    private EventFd(int fd, bool semaphore)
        : base(-1, ownsHandle: true)
    {
        SetHandle(fd);
        IsSemaphore = semaphore;
    }

    public override bool IsInvalid => handle < 0;

    /// <summary>EFD_SEMAPHORE: each read takes 1 off the counter instead of all of it.</summary>
    public bool IsSemaphore { get; }

    /// <summary>The raw descriptor number, for the kernel structures that name it (irqfd, ioeventfd).</summary>
    internal int Fd => (int)handle;

    public static EventFd Create(bool semaphore = false, ulong initialValue = 0)
    {
        if (initialValue > uint.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(initialValue), initialValue, "eventfd's initial value is 32-bit");
        }

        var flags = Libc.EfdCloExec | Libc.EfdNonBlock | (semaphore ? Libc.EfdSemaphore : 0);
        var fd = Libc.EventFd((uint)initialValue, flags);
        if (fd < 0)
        {
            throw new KvmException("eventfd", Marshal.GetLastPInvokeError());
        }

        return new EventFd(fd, semaphore);
    }

    /// <summary>Adds <paramref name="value"/> to the counter (wakes readers, fires an irqfd).</summary>
    public void Write(ulong value = 1)
    {
        if (value == ulong.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "0xffffffffffffffff cannot be written to an eventfd");
        }

        while (true)
        {
            nint written;

            // SAFETY: writes exactly the 8 bytes of a local.
            unsafe
            {
                written = Libc.Write(this, &value, sizeof(ulong));
            }

            if (written == sizeof(ulong))
            {
                return;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (written < 0 && errno == Libc.EIntr)
            {
                continue;
            }

            // EAGAIN: the counter would overflow; the event is already signalled far beyond what anyone can consume.
            if (written < 0 && errno == Libc.EAgain)
            {
                return;
            }

            throw new KvmException("eventfd write", errno);
        }
    }

    /// <summary>Reads (and resets, or decrements in semaphore mode) the counter if it is non-zero.</summary>
    public bool TryRead(out ulong value)
    {
        ulong result = 0;
        while (true)
        {
            nint read;

            // SAFETY: reads exactly 8 bytes into a local.
            unsafe
            {
                read = Libc.Read(this, &result, sizeof(ulong));
            }

            if (read == sizeof(ulong))
            {
                value = result;
                return true;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (read < 0 && errno == Libc.EIntr)
            {
                continue;
            }

            if (read < 0 && errno == Libc.EAgain)
            {
                value = 0;
                return false;
            }

            throw new KvmException("eventfd read", errno);
        }
    }

    /// <summary>Blocks until the counter is non-zero, then reads it.</summary>
    public ulong Read()
    {
        while (true)
        {
            if (TryRead(out var value))
            {
                return value;
            }

            _ = WaitReadable(Timeout.Infinite);
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the counter to become non-zero (does not read it).</summary>
    public bool WaitReadable(TimeSpan timeout) => WaitReadable(checked((int)Math.Ceiling(timeout.TotalMilliseconds)));

    /// <summary>Waits up to <paramref name="timeoutMs"/> ms (-1: forever) for the counter to become non-zero.</summary>
    public bool WaitReadable(int timeoutMs)
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            var pfd = new Libc.PollFd { Fd = (int)handle, Events = Libc.PollIn };
            while (true)
            {
                int ready;

                // SAFETY: polls one pollfd on the stack; the handle is kept open by DangerousAddRef.
                unsafe
                {
                    ready = Libc.Poll(&pfd, 1, timeoutMs);
                }

                if (ready >= 0)
                {
                    return ready > 0 && (pfd.Revents & Libc.PollIn) != 0;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != Libc.EIntr)
                {
                    throw new KvmException("poll", errno);
                }
            }
        }
        finally
        {
            if (added)
            {
                DangerousRelease();
            }
        }
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
