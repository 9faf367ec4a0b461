namespace ActorVmm.Kvm.Boot;

/// <summary>Why a kernel, initrd, command line or boot table could not be set up.</summary>
public enum BootError
{
    /// <summary>The file is missing or cannot be read.</summary>
    FileUnreadable,

    /// <summary>The image does not carry the expected magic (HdrS, 0x55aa, \x7fELF, ...).</summary>
    BadMagic,

    /// <summary>The image ends before a structure it declares.</summary>
    Truncated,

    /// <summary>The bzImage speaks a boot protocol older than 2.06.</summary>
    ProtocolTooOld,

    /// <summary>The image is well-formed but asks for something ActorVmm cannot do (32-bit only, wrong machine, ...).</summary>
    Unsupported,

    /// <summary>A size or offset in the image is inconsistent or absurd.</summary>
    InvalidImage,

    /// <summary>The kernel (or the memory it needs to decompress) does not fit in guest RAM.</summary>
    KernelDoesNotFit,

    /// <summary>The initrd does not fit between the kernel and the highest address the kernel accepts.</summary>
    InitrdDoesNotFit,

    /// <summary>The command line is longer than the kernel or the layout allows, or allows.</summary>
    CommandLineTooLong,

    /// <summary>The command line contains a NUL byte.</summary>
    CommandLineInvalid,

    /// <summary>A boot table (zero page, e820, MP table, page tables) does not fit where the layout puts it.</summary>
    TableDoesNotFit,
}

/// <summary>A typed, one-line error from the boot loaders and table writers.</summary>
public sealed class BootException : Exception
{
    public BootException(BootError error, string message)
        : base(message)
    {
        Error = error;
    }

    public BootException(BootError error, string message, Exception inner)
        : base(message, inner)
    {
        Error = error;
    }

    public BootError Error { get; }
}
