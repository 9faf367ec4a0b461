using System.Buffers.Binary;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>
/// The smallest guest a snapshot can hold: a 64-bit ELF "kernel" that VmBuilder boots like a vmlinux (long mode,
/// identity-mapped), which counts a qword at <see cref="CounterAddress"/> and prints <c>count N</c> on COM1 after
/// each step, with a busy wait between steps. Interrupts stay off; it needs no device but COM1.
/// </summary>
public static class CounterProgram
{
    public const ulong LoadAddress = 0x10_0000;
    public const ulong CounterAddress = 0x20_0000;
    public const ulong StackTop = 0x30_0000;

    /// <summary>The ELF image: one PT_LOAD segment at <see cref="LoadAddress"/>, entry at its start.</summary>
    public static byte[] Elf(ulong delayLoops = 2_000_000)
    {
        var code = Assemble(delayLoops);
        const int headerSize = 64;
        const int phdrSize = 56;
        var image = new byte[headerSize + phdrSize + code.Length];
        var h = image.AsSpan();
        ((ReadOnlySpan<byte>)[0x7f, (byte)'E', (byte)'L', (byte)'F']).CopyTo(h);
        h[4] = 2; // ELFCLASS64
        h[5] = 1; // little-endian
        h[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(h[16..], 2); // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(h[18..], 62); // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], LoadAddress); // e_entry
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], headerSize); // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(h[52..], headerSize); // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(h[54..], phdrSize); // e_phentsize
        BinaryPrimitives.WriteUInt16LittleEndian(h[56..], 1); // e_phnum
        var p = h[headerSize..];
        BinaryPrimitives.WriteUInt32LittleEndian(p, 1); // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], 5); // R+X
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], headerSize + phdrSize); // p_offset
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], LoadAddress); // p_vaddr
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], LoadAddress); // p_paddr
        BinaryPrimitives.WriteUInt64LittleEndian(p[32..], (ulong)code.Length); // p_filesz
        BinaryPrimitives.WriteUInt64LittleEndian(p[40..], (ulong)code.Length); // p_memsz
        BinaryPrimitives.WriteUInt64LittleEndian(p[48..], 0x1000); // p_align
        code.CopyTo(image, headerSize + phdrSize);
        return image;
    }

    private static byte[] Assemble(ulong delayLoops)
    {
        var a = new Assembler(64);
        var step = a.CreateLabel();
        var divide = a.CreateLabel();
        var emit = a.CreateLabel();
        var wait = a.CreateLabel();
        a.mov(rsp, StackTop);
        a.mov(rdi, CounterAddress);
        a.mov(rbx, 10UL);
        a.Label(ref step);
        a.inc(__qword_ptr[rdi]);
        a.mov(dx, (ushort)0x3f8);
        foreach (var ch in "count "u8.ToArray())
        {
            a.mov(al, ch);
            a.@out(dx, al);
        }

        a.mov(rax, __qword_ptr[rdi]);
        a.xor(ecx, ecx);
        a.Label(ref divide);
        a.xor(edx, edx);
        a.div(rbx);
        a.add(dl, (byte)'0');
        a.push(rdx);
        a.inc(rcx);
        a.test(rax, rax);
        a.jnz(divide);
        a.mov(dx, (ushort)0x3f8);
        a.Label(ref emit);
        a.pop(rax);
        a.@out(dx, al);
        a.dec(rcx);
        a.jnz(emit);
        a.mov(al, (byte)'\n');
        a.@out(dx, al);
        a.mov(rcx, delayLoops);
        a.Label(ref wait);
        a.pause();
        a.dec(rcx);
        a.jnz(wait);
        a.jmp(step);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), LoadAddress);
        return stream.ToArray();
    }
}
