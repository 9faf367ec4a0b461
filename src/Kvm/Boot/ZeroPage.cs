using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Boot;

/// <summary>
/// Fills struct boot_params (the zero page) for the 64-bit boot protocol and writes it, with the command line,
/// into guest memory at <see cref="Layout.ZeroPageStart"/> / <see cref="Layout.CmdlineStart"/>.
/// </summary>
public static class ZeroPage
{
    /// <summary>heap_end_ptr: end of the setup heap relative to the real-mode code, as QEMU sets it.</summary>
    public const ushort HeapEndPtr = 0xfe00;

    /// <summary>Builds the zero page without touching guest memory; <paramref name="acpiRsdp"/> goes to acpi_rsdp_addr (0: none, the kernel scans the BIOS area).</summary>
    /// <exception cref="BootException">The command line is too long or invalid, or the e820 map is too large.</exception>
    public static BootParams Build(KernelLoadResult kernel, InitrdLoadResult? initrd, string cmdline,
        IReadOnlyList<(GuestAddress Start, ulong Size)> ram, GuestAddress acpiRsdp = default)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        var cmdlineBytes = KernelCommandLine.Encode(cmdline, kernel.CommandLineMaxSize);
        return Fill(kernel, initrd, (uint)cmdlineBytes.Length, ram, acpiRsdp);
    }

    /// <summary>
    /// Writes the command line to <see cref="Layout.CmdlineStart"/> and the zero page to
    /// <see cref="Layout.ZeroPageStart"/>; returns what was written. RSI of the boot vCPU must hold
    /// <see cref="Layout.ZeroPageStart"/> (the <see cref="LongModeSetup"/> state does). <paramref name="acpiRsdp"/>, when
    /// not zero, tells the kernel where the ACPI tables' root pointer is (<see cref="Acpi.AcpiTables.Write"/> returns it).
    /// </summary>
    /// <exception cref="BootException">The command line is too long or invalid, the e820 map too large, or low RAM missing.</exception>
    public static BootParams Write(GuestMemory memory, KernelLoadResult kernel, InitrdLoadResult? initrd, string cmdline,
        IReadOnlyList<(GuestAddress Start, ulong Size)> ram, GuestAddress acpiRsdp = default)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(kernel);
        var cmdlineBytes = KernelCommandLine.Encode(cmdline, kernel.CommandLineMaxSize);
        var bootParams = Fill(kernel, initrd, (uint)cmdlineBytes.Length, ram, acpiRsdp);

        if (!memory.TryWrite(new GuestAddress(Layout.CmdlineStart), cmdlineBytes))
        {
            throw new BootException(BootError.TableDoesNotFit,
                $"command line at 0x{Layout.CmdlineStart:x} is outside guest RAM");
        }

        if (!memory.IsValidRange(new GuestAddress(Layout.ZeroPageStart), BootParams.Size))
        {
            throw new BootException(BootError.TableDoesNotFit,
                $"zero page at 0x{Layout.ZeroPageStart:x} is outside guest RAM");
        }

        memory.Write(new GuestAddress(Layout.ZeroPageStart), bootParams);
        return bootParams;
    }

    private static BootParams Fill(KernelLoadResult kernel, InitrdLoadResult? initrd, uint cmdlineSizeWithNul,
        IReadOnlyList<(GuestAddress Start, ulong Size)> ram, GuestAddress acpiRsdp)
    {
        var e820 = E820Map.Build(ram);
        var bootParams = default(BootParams);
        bootParams.AcpiRsdpAddr = acpiRsdp.Value;
        var hdr = kernel.SetupHeader;
        hdr.TypeOfLoader = SetupHeader.LoaderTypeUndefined;
        hdr.LoadFlags |= SetupHeader.CanUseHeap;
        hdr.HeapEndPtr = HeapEndPtr;
        hdr.CmdLinePtr = unchecked((uint)Layout.CmdlineStart);
        hdr.CmdlineSize = cmdlineSizeWithNul;
        bootParams.ExtCmdLinePtr = (uint)(Layout.CmdlineStart >> 32);
        if (initrd is not null)
        {
            hdr.RamdiskImage = unchecked((uint)initrd.Address.Value);
            hdr.RamdiskSize = unchecked((uint)initrd.Size);
            bootParams.ExtRamdiskImage = (uint)(initrd.Address.Value >> 32);
            bootParams.ExtRamdiskSize = (uint)(initrd.Size >> 32);
        }

        bootParams.Hdr = hdr;
        bootParams.E820Entries = (byte)e820.Count;
        for (var i = 0; i < e820.Count; i++)
        {
            bootParams.E820Table[i] = e820[i];
        }

        return bootParams;
    }
}
