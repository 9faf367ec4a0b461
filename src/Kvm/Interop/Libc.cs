using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>libc entry points: memory mapping, file descriptors, ioctl, eventfd, poll and thread signals.</summary>
internal static partial class Libc
{
    public const int ProtRead = 0x1;
    public const int ProtWrite = 0x2;
    public const int ProtExec = 0x4;
    public const int MapShared = 0x01;
    public const int MapPrivate = 0x02;
    public const int MapFixed = 0x10;
    public const int MapAnonymous = 0x20;
    public const int MapNoReserve = 0x4000;
    public const int MapHugeTlb = 0x40000;

    /// <summary>MAP_HUGE_SHIFT: with MAP_HUGETLB, bits 26..31 of the flags hold log2 of the huge page size.</summary>
    public const int MapHugeShift = 26;
    public const int MadvDontDump = 16;
    public const int MadvHugepage = 14;
    public static readonly nint MapFailed = -1;

    public const int ORdWr = 0x2;
    public const int OCloExec = 0x80000;

    public const int EfdSemaphore = 0x1;
    public const int EfdNonBlock = 0x800;
    public const int EfdCloExec = 0x80000;

    public const short PollIn = 0x1;

    public const int SigBlock = 0;

    /// <summary>glibc's sigset_t is 1024 bits; the kernel's is 64 bits (the first 8 bytes of it).</summary>
    public const int SigSetBytes = 128;

    /// <summary>The kernel's sigset_t on x86-64, as KVM_SET_SIGNAL_MASK wants it.</summary>
    public const int KernelSigSetBytes = 8;

    public const int SigUsr2 = 12;

    public const int EIntr = 4;
    public const int ENoMem = 12;
    public const int E2Big = 7;
    public const int EAgain = 11;
    public const int EAcces = 13;
    public const int ENoEnt = 2;
    public const int ENoDev = 19;
    public const int ENoSys = 38;
    public const int EOpNotSupp = 95;

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint addr, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint addr, nuint length, int prot, int flags, SafeHandle fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint addr, nuint length);

    [LibraryImport("libc", EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Mprotect(nint addr, nuint length, int prot);

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint addr, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>ioctl(2) with a pointer (or integer) argument. Call only through <see cref="KvmIoctl"/>.</summary>
    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, nint arg);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initval, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(SafeHandle fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(SafeHandle fd, void* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "pthread_self")]
    public static partial nuint PthreadSelf();

    /// <summary>Returns an error number (not -1/errno).</summary>
    [LibraryImport("libc", EntryPoint = "pthread_kill")]
    public static partial int PthreadKill(nuint thread, int signal);

    /// <summary>Returns an error number (not -1/errno). Sets are glibc sigset_t (<see cref="SigSetBytes"/> bytes).</summary>
    [LibraryImport("libc", EntryPoint = "pthread_sigmask")]
    public static unsafe partial int PthreadSigmask(int how, byte* set, byte* oldSet);

    [LibraryImport("libc", EntryPoint = "sigtimedwait", SetLastError = true)]
    public static unsafe partial int SigTimedWait(byte* set, void* info, Timespec* timeout);

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>Sets bit <paramref name="signal"/> in a sigset buffer (signal numbers start at 1).</summary>
    public static void SigAdd(Span<byte> set, int signal) => set[(signal - 1) / 8] |= (byte)(1 << ((signal - 1) % 8));

    public static void SigDel(Span<byte> set, int signal) => set[(signal - 1) / 8] &= (byte)~(1 << ((signal - 1) % 8));
}
