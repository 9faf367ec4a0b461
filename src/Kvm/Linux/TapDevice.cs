using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.Linux;

/// <summary>
/// An existing TAP interface, attached through /dev/net/tun (O_NONBLOCK, O_CLOEXEC) with IFF_TAP | IFF_NO_PI |
/// IFF_VNET_HDR and a 12-byte vnet header: every read and write is one frame laid out as a virtio_net_hdr_v1, then the
/// Ethernet frame. It never creates an interface (the administrator does, with <c>ip tuntap add</c>); every failure to
/// open is a <see cref="TapException"/> of one line saying what to run. The handle can be watched with
/// <see cref="Epoll"/> for frames to read.
/// </summary>
public sealed partial class TapDevice : SafeHandle
{
    /// <summary>Bytes of the vnet header set with TUNSETVNETHDRSZ (virtio_net_hdr_v1, num_buffers included).</summary>
    public const int VnetHeaderSize = 12;

    private const string TunPath = "/dev/net/tun";
    private const int ONonBlock = 0x800;
    private const int EPerm = 1;
    private const int EBusy = 16;
    private const int EInval = 22;
    private const int EBadFd = 77;

    private TapDevice()
        : base(-1, ownsHandle: true)
    {
        Name = string.Empty;
    }

    public override bool IsInvalid => handle < 0;

    /// <summary>The interface name.</summary>
    public string Name { get; private set; }

    /// <summary>The offloads last set with <see cref="SetOffloads"/> (none right after opening).</summary>
    public TapOffloads Offloads { get; private set; }

    /// <summary>Whether the interface is administratively up (IFF_UP in /sys/class/net/NAME/flags); null if unknown.</summary>
    public bool? IsUp => ReadSysHex(Name, "flags") is { } flags ? (flags & 1) != 0 : null;

    /// <summary>
    /// Attaches to the TAP interface <paramref name="name"/>, which must already exist in this network namespace, and
    /// clears its offloads (a persistent TAP keeps the previous user's). Throws <see cref="TapException"/>.
    /// </summary>
    public static TapDevice Open(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!IsValidName(name))
        {
            throw new TapException(name, $"'{name}' is not a valid interface name for a tap (1 to 15 characters, no '/', ':' or spaces)");
        }

        if (IfNameToIndex(name) == 0)
        {
            throw new TapException(name, $"tap '{name}' does not exist: create it with 'ip tuntap add dev {name} mode tap user $USER' and 'ip link set {name} up'");
        }

        // /sys/class/net shows the namespace sysfs was mounted in; where it does not list the interface, TUNSETIFF decides.
        var tunFlags = ReadSysHex(name, "tun_flags");
        if (tunFlags is null && Directory.Exists($"/sys/class/net/{name}"))
        {
            throw new TapException(name, $"'{name}' is a network interface but not a tap: name one created with 'ip tuntap add dev NAME mode tap user $USER'");
        }

        if (tunFlags is { } f && (f & TunIoctls.IffTap) == 0)
        {
            throw new TapException(name, $"'{name}' is a tun (layer 3) device, not a tap: recreate it with 'ip tuntap del dev {name} mode tun' and 'ip tuntap add dev {name} mode tap user $USER'");
        }

        var fd = Libc.Open(TunPath, Libc.ORdWr | ONonBlock | Libc.OCloExec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                Libc.ENoEnt or Libc.ENoDev or 6 /* ENXIO */ => new TapException(name, $"cannot open tap '{name}': {TunPath} is missing (load the tun module: 'modprobe tun')", errno),
                Libc.EAcces or EPerm => new TapException(name, $"cannot open tap '{name}': no permission to open {TunPath} (it should be mode 0666, as the tun module creates it)", errno),
                _ => new TapException(name, $"cannot open tap '{name}': open {TunPath} failed: {KvmException.ErrnoName(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})", errno),
            };
        }

        var tap = new TapDevice { Name = name };
        tap.SetHandle(fd);
        try
        {
            var multiQueue = tunFlags is { } mq && (mq & TunIoctls.IffMultiQueue) != 0;
            tap.Attach(multiQueue);
            var size = VnetHeaderSize;
            tap.Check(KvmIoctl.TryInvoke(tap, TunIoctls.SetVnetHdrSz, MemoryMarshal.AsBytes(new Span<int>(ref size))), TunIoctls.SetVnetHdrSz);
            tap.SetOffloads(TapOffloads.None);
            return tap;
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Tells the kernel which frames the reader accepts (TUNSETOFFLOAD). Throws <see cref="TapException"/> when the
    /// kernel refuses the combination (EINVAL: a TSO or UFO flag without <see cref="TapOffloads.Checksum"/>, ECN
    /// without TSO, or a flag it does not know).
    /// </summary>
    public void SetOffloads(TapOffloads offloads)
    {
        int result;
        do
        {
            result = KvmIoctl.TryInvoke(this, TunIoctls.SetOffload, (nint)offloads);
        }
        while (result == -Libc.EIntr);

        Check(result, TunIoctls.SetOffload);
        Offloads = offloads;
    }

    /// <summary>
    /// Reads one waiting frame (vnet header + Ethernet frame) into <paramref name="buffer"/> and returns its length, or 0
    /// when none is waiting. A frame longer than the buffer is cut short: give room for a 64 KiB GSO frame when TSO is
    /// on. The 2 bytes of num_buffers are left as they were (the kernel writes only the first 10 of the header). Throws
    /// <see cref="TapException"/> when the TAP fails (it was deleted: EBADFD).
    /// </summary>
    public int Read(Span<byte> buffer)
    {
        while (true)
        {
            nint read;

            // SAFETY: the kernel writes at most buffer.Length bytes into the pinned span; the SafeHandle marshaller
            // keeps the descriptor open for the call.
            unsafe
            {
                fixed (byte* p = buffer)
                {
                    read = Libc.Read(this, p, (nuint)buffer.Length);
                }
            }

            if (read >= 0)
            {
                return (int)read;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Libc.EIntr)
            {
                continue;
            }

            if (errno == Libc.EAgain)
            {
                return 0;
            }

            throw errno == EBadFd
                ? new TapException(Name, $"tap '{Name}' went away (deleted while attached): read failed: EBADFD", errno)
                : Failure("read", errno);
        }
    }

    /// <summary>Writes one frame (vnet header + Ethernet frame); false when the TAP did not take it (see the overload).</summary>
    public bool TryWrite(ReadOnlySpan<byte> frame) => TryWrite(frame, out _);

    /// <summary>
    /// Writes one frame (vnet header + Ethernet frame). False, with the errno, when the TAP did not take it: EAGAIN (its
    /// queue is full), EINVAL (a malformed header or frame), EIO (the interface is down) and the like. Never throws for
    /// what a frame holds: frames come from the guest.
    /// </summary>
    public bool TryWrite(ReadOnlySpan<byte> frame, out int errno)
    {
        while (true)
        {
            nint written;

            // SAFETY: the kernel reads at most frame.Length bytes from the pinned span; the SafeHandle marshaller keeps
            // the descriptor open for the call.
            unsafe
            {
                fixed (byte* p = frame)
                {
                    written = Libc.Write(this, p, (nuint)frame.Length);
                }
            }

            if (written >= 0)
            {
                errno = 0;
                return true; // a TAP takes a frame whole or not at all
            }

            errno = Marshal.GetLastPInvokeError();
            if (errno != Libc.EIntr)
            {
                return false;
            }
        }
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;

    private void Attach(bool multiQueue)
    {
        var request = default(IfReq);
        var nameBytes = Encoding.ASCII.GetBytes(Name);

        // SAFETY: Name is at most 15 ASCII bytes (IsValidName), copied into the 16-byte field whose last byte stays 0.
        unsafe
        {
            nameBytes.CopyTo(new Span<byte>(request.Name, TunIoctls.NameSize - 1));
        }

        request.Flags = (short)(TunIoctls.IffTap | TunIoctls.IffNoPi | TunIoctls.IffVnetHdr | (multiQueue ? TunIoctls.IffMultiQueue : 0));
        var result = KvmIoctl.TryInvoke(this, TunIoctls.SetIff, MemoryMarshal.AsBytes(new Span<IfReq>(ref request)));
        if (result >= 0)
        {
            return;
        }

        var errno = -result;
        throw errno switch
        {
            EPerm => new TapException(Name, $"no permission to attach to tap '{Name}': it belongs to another user or group; recreate it with 'ip tuntap add dev {Name} mode tap user $USER' or run with CAP_NET_ADMIN", errno),
            EBusy => new TapException(Name, $"tap '{Name}' is in use by another process (a single-queue tap takes one reader): stop that one or use another tap", errno),
            EInval => new TapException(Name, $"tap '{Name}' refused to attach (TUNSETIFF: EINVAL): it is not a tap, or its multi_queue setting changed while opening", errno),
            _ => Failure("TUNSETIFF", errno),
        };
    }

    private void Check(int result, IoctlRequest request)
    {
        if (result < 0)
        {
            throw Failure(request.Name, -result);
        }
    }

    private TapException Failure(string call, int errno) =>
        new(Name, $"tap '{Name}': {call} failed: {KvmException.ErrnoName(errno)} ({Marshal.GetPInvokeErrorMessage(errno)})", errno);

    /// <summary>What Linux's dev_valid_name accepts; also keeps the name safe to put in a /sys path.</summary>
    private static bool IsValidName(string name) =>
        name.Length is > 0 and < TunIoctls.NameSize
        && name is not "." and not ".."
        && name.All(c => c is > ' ' and < (char)0x7F and not '/' and not ':');

    private static int? ReadSysHex(string name, string attribute)
    {
        try
        {
            var text = File.ReadAllText($"/sys/class/net/{name}/{attribute}").Trim();
            var hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
            return int.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value) ? value : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial uint IfNameToIndex(string name);
}
