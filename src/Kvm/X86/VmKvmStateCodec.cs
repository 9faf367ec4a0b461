using ActorVmm.Kvm.Interop;

namespace ActorVmm.Kvm.X86;

/// <summary>
/// Binary form of a <see cref="VmKvmState"/>: each struct as a length-prefixed blob of its kernel bytes. Reading
/// refuses a wrong size or a short stream with an <see cref="InvalidDataException"/> naming the field.
/// </summary>
public static class VmKvmStateCodec
{
    private const string Owner = "VM state";

    public static void Write(BinaryWriter w, VmKvmState s)
    {
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(s);
        StateBlob.WriteStruct(w, s.PicMaster);
        StateBlob.WriteStruct(w, s.PicSlave);
        StateBlob.WriteStruct(w, s.Ioapic);
        StateBlob.WriteStruct(w, s.Pit);
        StateBlob.WriteStruct(w, s.Clock);
    }

    public static VmKvmState Read(BinaryReader r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new VmKvmState(
            ReadChip(r, nameof(VmKvmState.PicMaster), KvmIrqchip.PicMaster),
            ReadChip(r, nameof(VmKvmState.PicSlave), KvmIrqchip.PicSlave),
            ReadChip(r, nameof(VmKvmState.Ioapic), KvmIrqchip.Ioapic),
            StateBlob.ReadStruct<KvmPitState2>(r, Owner, nameof(VmKvmState.Pit)),
            StateBlob.ReadStruct<KvmClockData>(r, Owner, nameof(VmKvmState.Clock)));
    }

    private static KvmIrqchip ReadChip(BinaryReader r, string field, uint expectedId)
    {
        var chip = StateBlob.ReadStruct<KvmIrqchip>(r, Owner, field);
        if (chip.ChipId != expectedId)
        {
            throw new InvalidDataException($"{Owner}: field {field} holds irqchip {chip.ChipId}, expected chip {expectedId}");
        }

        return chip;
    }
}
