using ActorVmm.Kvm.Memory;

namespace ActorVmm.Kvm.Acpi;

/// <summary>One ACPI structure and where it goes in guest memory.</summary>
/// <param name="Signature">Its 4-character signature ("FACP", "APIC", ...); "RSDP" for the root pointer ("RSD PTR ").</param>
/// <param name="Address">Guest-physical address.</param>
/// <param name="Bytes">Its bytes, checksum included.</param>
public sealed record AcpiTable(string Signature, GuestAddress Address, byte[] Bytes);

/// <summary>The tables <see cref="AcpiTables.Build"/> made: the RSDP's address (for boot_params.acpi_rsdp_addr) and every table.</summary>
public sealed record AcpiTableSet(GuestAddress Rsdp, IReadOnlyList<AcpiTable> Tables)
{
    /// <summary>The table with <paramref name="signature"/>.</summary>
    /// <exception cref="KeyNotFoundException">There is none.</exception>
    public AcpiTable this[string signature] =>
        Tables.FirstOrDefault(t => t.Signature == signature) ?? throw new KeyNotFoundException($"no ACPI table {signature}");
}
