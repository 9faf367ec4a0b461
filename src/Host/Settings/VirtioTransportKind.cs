namespace ActorVmm.Host.Settings;

/// <summary>How a virtio device reaches the guest (<c>actorvmm.vm.transport</c>, or a disk's or NIC's own <c>transport</c>).</summary>
public enum VirtioTransportKind
{
    /// <summary>A modern virtio-pci function on PCI bus 0 (MSI-X, INTx fallback).</summary>
    Pci,

    /// <summary>A virtio-mmio device (version 2) in a 4 KiB window from 0xF000_0000, announced in the ACPI DSDT.</summary>
    Mmio,
}
