using System.Buffers.Binary;
using System.Reflection;
using System.Reflection.Emit;

namespace ActorVmm.Architecture.Tests.Reading;

/// <summary>Walks a method body's IL and yields the members and types its tokens name (calls, field accesses,
/// newobj, ldtoken, castclass, …). Tokens that do not resolve are skipped.</summary>
internal static class IlOperandReader
{
    private const byte TwoBytePrefix = 0xFE;

    private static readonly OpCode?[] _oneByte = new OpCode?[256];
    private static readonly OpCode?[] _twoByte = new OpCode?[256];

    static IlOperandReader()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            if (field.GetValue(null) is not OpCode code)
            {
                continue;
            }

            var value = (ushort)code.Value;
            if (code.Size == 1)
            {
                _oneByte[value] = code;
            }
            else
            {
                _twoByte[value & 0xFF] = code;
            }
        }
    }

    public static IEnumerable<MemberInfo> ReadTokens(MethodBase method)
    {
        byte[]? il;
        try
        {
            il = method.GetMethodBody()?.GetILAsByteArray();
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or BadImageFormatException)
        {
            yield break;
        }

        if (il is null)
        {
            yield break;
        }

        var module = method.Module;
        var typeArguments = method.DeclaringType is { IsGenericType: true } declaring ? declaring.GetGenericArguments() : null;
        var methodArguments = method is MethodInfo { IsGenericMethod: true } ? method.GetGenericArguments() : null;

        var at = 0;
        while (at < il.Length)
        {
            OpCode? code = il[at] == TwoBytePrefix && at + 1 < il.Length ? _twoByte[il[at + 1]] : _oneByte[il[at]];
            if (code is not { } op)
            {
                yield break; // unknown opcode: the rest cannot be decoded reliably
            }

            at += op.Size;
            var namesToken = op.OperandType is OperandType.InlineMethod or OperandType.InlineField
                or OperandType.InlineType or OperandType.InlineTok;
            if (namesToken && at + 4 <= il.Length)
            {
                var token = BinaryPrimitives.ReadInt32LittleEndian(il.AsSpan(at));
                if (Resolve(module, op.OperandType, token, typeArguments, methodArguments) is { } member)
                {
                    yield return member;
                }
            }

            at += OperandSize(op.OperandType, il, at);
        }
    }

    private static MemberInfo? Resolve(Module module, OperandType kind, int token, Type[]? typeArguments, Type[]? methodArguments)
    {
        try
        {
            return kind switch
            {
                OperandType.InlineMethod => module.ResolveMethod(token, typeArguments, methodArguments),
                OperandType.InlineField => module.ResolveField(token, typeArguments, methodArguments),
                OperandType.InlineType => module.ResolveType(token, typeArguments, methodArguments),
                _ => module.ResolveMember(token, typeArguments, methodArguments),
            };
        }
        catch (Exception e) when (e is ArgumentException or TypeLoadException or MissingMemberException
            or FileNotFoundException or BadImageFormatException or NotSupportedException)
        {
            return null;
        }
    }

    private static int OperandSize(OperandType kind, byte[] il, int at) => kind switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => at + 4 <= il.Length ? 4 + (4 * BinaryPrimitives.ReadInt32LittleEndian(il.AsSpan(at))) : 4,
        _ => 4, // InlineBrTarget, InlineI, InlineField, InlineMethod, InlineSig, InlineString, InlineTok, InlineType, ShortInlineR
    };
}
