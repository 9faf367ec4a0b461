using System.Runtime.InteropServices;
using ActorVmm.Kvm.Interop;
using Microsoft.Win32.SafeHandles;

namespace ActorVmm.Kvm.Linux;

/// <summary>
/// fallocate(2) on an open file: freeing, zeroing and allocating byte ranges without writing data (virtio-blk
/// discard and write-zeroes). Each call returns false when the file system does not support that mode
/// (EOPNOTSUPP, or ENODEV/ENOSYS where there is no fallocate at all), so the caller can fall back; any other
/// failure is an <see cref="IOException"/> naming the errno. The file size never changes (FALLOC_FL_KEEP_SIZE).
/// </summary>
public static partial class FileSpace
{
    private const int KeepSize = 0x01;
    private const int PunchHole = 0x02;
    private const int ZeroRange = 0x10;

    /// <summary>Deallocates [offset, offset + length): reads of it return zeroes afterwards.</summary>
    public static bool TryPunchHole(SafeFileHandle file, long offset, long length) =>
        Call(file, PunchHole | KeepSize, offset, length, "punch a hole in");

    /// <summary>Zeroes [offset, offset + length) and keeps (or makes) it allocated.</summary>
    public static bool TryZeroRange(SafeFileHandle file, long offset, long length) =>
        Call(file, ZeroRange | KeepSize, offset, length, "zero a range of");

    /// <summary>Allocates [offset, offset + length) where it is a hole; data already there is kept.</summary>
    public static bool TryAllocate(SafeFileHandle file, long offset, long length) =>
        Call(file, KeepSize, offset, length, "allocate a range of");

    /// <summary>
    /// Whether files in <paramref name="directory"/> free punched ranges, so that they read as zeroes afterwards (tmpfs,
    /// ext4, xfs and btrfs do; 9p does not): a scratch file there is written, punched, read back and deleted.
    /// </summary>
    public static bool PunchesHoles(string directory)
    {
        var path = Path.Combine(directory, $".actorvmm-punch-{Guid.NewGuid():N}");
        try
        {
            File.WriteAllBytes(path, Enumerable.Repeat((byte)0xFF, 8192).ToArray());
            using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
            {
                if (!TryPunchHole(handle, 0, 4096))
                {
                    return false;
                }
            }

            return File.ReadAllBytes(path).AsSpan(0, 4096).IndexOfAnyExcept((byte)0) < 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static bool Call(SafeFileHandle file, int mode, long offset, long length, string what)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        while (Fallocate(file, mode, offset, length) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Libc.EIntr:
                    continue;
                case Libc.EOpNotSupp or Libc.ENoDev or Libc.ENoSys:
                    return false;
                default:
                    throw new IOException(
                        $"cannot {what} the file: {KvmException.ErrnoName(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})");
            }
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);
}
