using System.Runtime.InteropServices;

namespace ActorVmm.Kvm.Interop;

/// <summary>
/// struct kvm_irq_routing's header (8 bytes: nr, flags); <see cref="Nr"/> <see cref="KvmIrqRoutingEntry"/> entries
/// follow it (KVM_SET_GSI_ROUTING).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqRouting
{
    public uint Nr;
    public uint Flags;

    /// <summary>
    /// The routing KVM sets up itself with KVM_CREATE_IRQCHIP on x86 (kvm_setup_default_irq_routing): GSIs 0-15 to
    /// the I/O APIC pin of the same number and to the PIC (master for 0-7, slave for 8-15, pin GSI % 8), GSIs 16-23
    /// to the I/O APIC only. KVM_SET_GSI_ROUTING replaces the whole table, so a VMM adding MSI routes sends these too.
    /// </summary>
    public static KvmIrqRoutingEntry[] X86Default()
    {
        var entries = new List<KvmIrqRoutingEntry>(40);
        for (uint gsi = 0; gsi < Layout.IoApicPinCount; gsi++)
        {
            entries.Add(KvmIrqRoutingEntry.ForIrqchip(gsi, KvmIrqRoutingEntry.IrqchipIoapic, gsi));
            if (gsi < Layout.IsaIrqCount)
            {
                var pic = gsi < 8 ? KvmIrqRoutingEntry.IrqchipPicMaster : KvmIrqRoutingEntry.IrqchipPicSlave;
                entries.Add(KvmIrqRoutingEntry.ForIrqchip(gsi, pic, gsi % 8));
            }
        }

        return [.. entries];
    }
}
