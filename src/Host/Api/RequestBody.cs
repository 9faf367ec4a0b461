using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace ActorVmm.Host.Api;

/// <summary>Reads request bodies with the API's size limit and checks their JSON shape, naming the field at fault.</summary>
internal static class RequestBody
{
    /// <summary>Largest request body the API takes; a longer one is a 413.</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>The body's bytes; 413 when it is longer than <see cref="MaxBytes"/>.</summary>
    public static async Task<byte[]> ReadBytesAsync(HttpRequest request, CancellationToken cancellation)
    {
        if (request.ContentLength > MaxBytes)
        {
            throw TooLarge();
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        while (true)
        {
            var read = await request.Body.ReadAsync(chunk, cancellation);
            if (read == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + read > MaxBytes)
            {
                throw TooLarge();
            }

            buffer.Write(chunk, 0, read);
        }
    }

    /// <summary>The body as text after checking it is well-formed JSON with an object at the top (400 otherwise).</summary>
    public static async Task<string> ReadObjectTextAsync(HttpRequest request, CancellationToken cancellation)
    {
        var bytes = await ReadBytesAsync(request, cancellation);
        using (ParseObject(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }
    }

    /// <summary>The body parsed as a JSON object (400 when malformed or not an object).</summary>
    public static async Task<JsonDocument> ReadObjectAsync(HttpRequest request, CancellationToken cancellation) =>
        ParseObject(await ReadBytesAsync(request, cancellation));

    /// <summary>A string member: 400 naming <paramref name="name"/> when it is missing (and required) or not a string.</summary>
    public static string? String(JsonDocument document, string name, bool required)
    {
        if (!document.RootElement.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return required ? throw new ApiException(400, $"{name} is required") : null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw new ApiException(400, $"{name} must be a string, not {Describe(value.ValueKind)}");
        }

        return value.GetString();
    }

    private static JsonDocument ParseObject(byte[] bytes)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException e)
        {
            throw new ApiException(400, "malformed JSON: " + FirstLine(e.Message));
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = document.RootElement.ValueKind;
            document.Dispose();
            throw new ApiException(400, $"the body must be a JSON object, not {Describe(kind)}");
        }

        return document;
    }

    private static ApiException TooLarge() => new(413, $"request body over {MaxBytes} bytes");

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    internal static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }
}
