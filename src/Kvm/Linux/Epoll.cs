using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.Linux;

/// <summary>
/// An epoll(7) instance (EPOLL_CLOEXEC): one thread waits on many descriptors at once. Descriptors are watched
/// level-triggered for input and carry a caller's 64-bit tag that <see cref="Wait"/> hands back. A failed call is a
/// <see cref="KvmException"/> naming the errno; an interrupted wait (EINTR) is retried.
/// </summary>
public sealed partial class Epoll : SafeHandle
{
    private const int CloExec = 0x80000;
    private const int CtlAdd = 1;
    private const int CtlDel = 2;
    private const uint In = 0x001;

    public Epoll()
        : base(-1, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle < 0;

    public static Epoll Create()
    {
        var fd = EpollCreate1(CloExec);
        if (fd < 0)
        {
            throw Failed("epoll_create1");
        }

        var epoll = new Epoll();
        epoll.SetHandle(fd);
        return epoll;
    }

    /// <summary>Watches <paramref name="fd"/> for input; <see cref="Wait"/> reports it as <paramref name="tag"/>.</summary>
    public void Add(SafeHandle fd, ulong tag)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var ev = new EpollEvent { Events = In, Data = tag };
        if (EpollCtl(this, CtlAdd, fd, ref ev) != 0)
        {
            throw Failed("epoll_ctl(ADD)");
        }
    }

    /// <summary>Stops watching <paramref name="fd"/>.</summary>
    public void Remove(SafeHandle fd)
    {
        ArgumentNullException.ThrowIfNull(fd);
        var ev = default(EpollEvent); // ignored by EPOLL_CTL_DEL, but kernels before 2.6.9 wanted a non-null pointer
        if (EpollCtl(this, CtlDel, fd, ref ev) != 0)
        {
            throw Failed("epoll_ctl(DEL)");
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> ms (-1: forever) until a watched descriptor is readable; writes the
    /// tags of the ready ones (at most <paramref name="ready"/>'s length) and returns how many (0: timed out).
    /// </summary>
    public int Wait(Span<ulong> ready, int timeoutMs)
    {
        if (ready.IsEmpty)
        {
            throw new ArgumentException("room for at least one event is needed", nameof(ready));
        }

        var count = Math.Min(ready.Length, 64);
        Span<EpollEvent> events = stackalloc EpollEvent[count];
        while (true)
        {
            int n;

            // SAFETY: the kernel writes at most `count` 12-byte events into the stack buffer of that many; the
            // handle is kept open across the call by the SafeHandle marshaller.
            unsafe
            {
                fixed (EpollEvent* buffer = events)
                {
                    n = EpollWait(this, buffer, count, timeoutMs);
                }
            }

            if (n >= 0)
            {
                for (var i = 0; i < n; i++)
                {
                    ready[i] = events[i].Data;
                }

                return n;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EIntr)
            {
                throw new KvmException("epoll_wait", errno);
            }
        }
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;

    private static KvmException Failed(string call) => new(call, Marshal.GetLastPInvokeError());

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(SafeHandle epoll, int op, SafeHandle fd, ref EpollEvent ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static unsafe partial int EpollWait(SafeHandle epoll, EpollEvent* events, int maxEvents, int timeoutMs);
}

/// <summary>struct epoll_event on x86-64: packed (__attribute__((packed))), 12 bytes, the data at offset 4.</summary>
[StructLayout(LayoutKind.Explicit, Size = 12)]
internal struct EpollEvent
{
    [FieldOffset(0)]
    public uint Events;

    [FieldOffset(4)]
    public ulong Data;
}
