using System.Text.Json;

namespace ActorVmm.Actors.Tracing;

/// <summary>
/// Device names JSON-encoded once per writer (a VM has a handful of devices; the same name string comes with every
/// event, so the last one is checked by reference first). Not thread-safe (one per writer).
/// </summary>
internal sealed class DeviceNames
{
    private readonly Dictionary<string, JsonEncodedText> _encoded = new(StringComparer.Ordinal);
    private string? _last;
    private JsonEncodedText _lastEncoded;

    public JsonEncodedText Encoded(string device)
    {
        if (ReferenceEquals(device, _last))
        {
            return _lastEncoded;
        }

        if (!_encoded.TryGetValue(device, out var encoded))
        {
            encoded = JsonEncodedText.Encode(device);
            _encoded.Add(device, encoded);
        }

        _last = device;
        _lastEncoded = encoded;
        return encoded;
    }
}
