using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>What kind of kernel image was loaded.</summary>
public enum KernelImageKind
{
    /// <summary>A compressed bzImage entered through its 64-bit entry point (load address + 0x200).</summary>
    BzImage,

    /// <summary>An uncompressed ELF64 vmlinux entered at its ELF entry point (startup_64).</summary>
    Elf,
}

/// <summary>
/// Where a kernel landed in guest memory and what the zero page, initrd loader and vCPU setup need from it.
/// </summary>
/// <param name="Kind">bzImage or ELF vmlinux.</param>
/// <param name="LoadAddress">The lowest guest address written (protected-mode kernel or lowest PT_LOAD segment).</param>
/// <param name="LoadedSize">Bytes copied from the image into guest memory.</param>
/// <param name="EntryPoint">The 64-bit entry point: RIP for the boot vCPU.</param>
/// <param name="End">The first address past everything the kernel may occupy while booting (for a bzImage this includes
/// the decompression buffer, init_size bytes from its run-time address); an initrd must lie at or above it.</param>
/// <param name="SetupHeader">The setup header to place in the zero page: copied from the bzImage, or synthesised for an ELF kernel.</param>
/// <param name="ProtocolVersion">Boot protocol version (0x20f = 2.15); 0 for an ELF kernel.</param>
/// <param name="CommandLineMaxSize">Most bytes the command line may take including its NUL.</param>
/// <param name="InitrdAddressMax">The highest address any byte of the initrd may occupy (initrd_addr_max).</param>
public sealed record KernelLoadResult(
    KernelImageKind Kind,
    GuestAddress LoadAddress,
    ulong LoadedSize,
    GuestAddress EntryPoint,
    GuestAddress End,
    SetupHeader SetupHeader,
    ushort ProtocolVersion,
    ulong CommandLineMaxSize,
    ulong InitrdAddressMax);

/// <summary>Where the initrd landed.</summary>
/// <param name="Address">Page-aligned guest address of the first byte.</param>
/// <param name="Size">Size in bytes.</param>
public sealed record InitrdLoadResult(GuestAddress Address, ulong Size);
