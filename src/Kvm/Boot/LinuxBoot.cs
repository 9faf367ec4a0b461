using ActorVmm.Kvm.Memory;
using ActorVmm.Kvm.X86;

namespace ActorVmm.Kvm.Boot;

/// <summary>Everything <see cref="LinuxBoot.Prepare(GuestMemory, IReadOnlyList{ValueTuple{GuestAddress, ulong}}, string, string?, string, int)"/> set up.</summary>
/// <param name="Kernel">Where the kernel went.</param>
/// <param name="Initrd">Where the initrd went, or null.</param>
/// <param name="ZeroPage">The boot_params written at <see cref="Layout.ZeroPageStart"/>.</param>
/// <param name="MpTableSize">Bytes of the MP table at <see cref="Layout.MpTableStart"/>.</param>
/// <param name="BootCpu">The state to load into vCPU 0 (the others wait for INIT/SIPI).</param>
public sealed record LinuxBootResult(
    KernelLoadResult Kernel,
    InitrdLoadResult? Initrd,
    BootParams ZeroPage,
    int MpTableSize,
    X86BootCpuState BootCpu);

/// <summary>
/// The whole x86-64 Linux boot preparation in one call: kernel (bzImage or vmlinux), optional initrd, zero page with
/// command line and e820 map, MP table for <c>cpus</c> processors, GDT/IDT/page tables. Only guest memory is
/// touched; the caller loads <see cref="LinuxBootResult.BootCpu"/> into vCPU 0.
/// </summary>
public static class LinuxBoot
{
    /// <exception cref="BootException">Any file is unreadable or invalid, or something does not fit.</exception>
    public static LinuxBootResult Prepare(GuestMemory memory, IReadOnlyList<(GuestAddress Start, ulong Size)> ram,
        string kernelPath, string? initrdPath, string cmdline, int cpus)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var kernel = KernelLoader.Load(memory, kernelPath);
        var initrd = initrdPath is null ? null : InitrdLoader.Load(memory, initrdPath, kernel);
        var zeroPage = Boot.ZeroPage.Write(memory, kernel, initrd, cmdline, ram);
        var mpTableSize = MpTable.Write(memory, cpus);
        var cpu = LongModeSetup.Write(memory, kernel);
        return new LinuxBootResult(kernel, initrd, zeroPage, mpTableSize, cpu);
    }
}
