using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm;

/// <summary>
/// The one place where ioctls are issued and errno becomes a <see cref="KvmException"/>. EINTR is retried
/// everywhere except KVM_RUN (see <see cref="TryInvoke"/>), where it means "kicked".
/// </summary>
internal static class KvmIoctl
{
    /// <summary>Issues the ioctl with an integer argument; retries on EINTR; throws on any other error.</summary>
    public static int Invoke(SafeHandle fd, IoctlRequest request, nint arg = 0)
    {
        while (true)
        {
            var result = Libc.Ioctl(fd, request.Number, arg);
            if (result >= 0)
            {
                return result;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EIntr)
            {
                throw new KvmException(request.Name, errno);
            }
        }
    }

    /// <summary>Issues the ioctl with a pointer to <paramref name="arg"/>.</summary>
    public static int Invoke<T>(SafeHandle fd, IoctlRequest request, ref T arg)
        where T : unmanaged
    {
        // SAFETY: arg is a ref to an unmanaged value pinned for the duration of the call; the request's size
        // (checked by the layout tests) equals sizeof(T), so the kernel touches only those bytes.
        unsafe
        {
            fixed (T* p = &arg)
            {
                return Invoke(fd, request, (nint)p);
            }
        }
    }

    /// <summary>Issues the ioctl with a pointer to a byte buffer (header + flexible array).</summary>
    public static int Invoke(SafeHandle fd, IoctlRequest request, Span<byte> buffer)
    {
        // SAFETY: the buffer is pinned for the call and sized by the caller for the header plus entries it declares.
        unsafe
        {
            fixed (byte* p = buffer)
            {
                return Invoke(fd, request, (nint)p);
            }
        }
    }

    /// <summary>Issues the ioctl once, without retrying; returns -errno on failure.</summary>
    public static int TryInvoke(SafeHandle fd, IoctlRequest request, nint arg = 0)
    {
        var result = Libc.Ioctl(fd, request.Number, arg);
        return result >= 0 ? result : -Marshal.GetLastPInvokeError();
    }

    /// <summary>Like <see cref="TryInvoke(SafeHandle, IoctlRequest, nint)"/> for a byte buffer; EINTR retried.</summary>
    public static int TryInvoke(SafeHandle fd, IoctlRequest request, Span<byte> buffer)
    {
        // SAFETY: the buffer is pinned for the call and sized by the caller for the header plus entries it declares.
        unsafe
        {
            fixed (byte* p = buffer)
            {
                int result;
                do
                {
                    result = TryInvoke(fd, request, (nint)p);
                }
                while (result == -Libc.EIntr);

                return result;
            }
        }
    }

    public static KvmException Error(IoctlRequest request, int errno) => new(request.Name, errno);

    /// <summary>A KVM_GET_* ioctl that fills one struct.</summary>
    public static T Get<T>(SafeHandle fd, IoctlRequest request)
        where T : unmanaged
    {
        var state = default(T);
        Invoke(fd, request, ref state);
        return state;
    }

    /// <summary>A KVM_SET_* ioctl that takes one struct (copied: the ioctl wants a writable reference).</summary>
    public static void Set<T>(SafeHandle fd, IoctlRequest request, in T state)
        where T : unmanaged
    {
        var copy = state;
        Invoke(fd, request, ref copy);
    }

    public static int SizeOf<T>()
        where T : unmanaged => Unsafe.SizeOf<T>();
}
