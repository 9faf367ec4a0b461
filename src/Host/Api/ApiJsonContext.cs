using System.Text.Json.Serialization;
using ActorVmm.Host.Serve;

namespace ActorVmm.Host.Api;

/// <summary>
/// The API's JSON, generated at build time (no reflection, so the Native AOT build serializes the same way): keys in
/// kebab-case like the HOCON keys a create body uses (<c>read-only</c>, <c>faults-fired</c>).
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.KebabCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(VmInfo))]
[JsonSerializable(typeof(IReadOnlyList<VmInfo>))]
[JsonSerializable(typeof(IReadOnlyList<DeviceInfo>))]
[JsonSerializable(typeof(FaultInfo))]
[JsonSerializable(typeof(IReadOnlyList<FaultInfo>))]
[JsonSerializable(typeof(VmStatsInfo))]
[JsonSerializable(typeof(NetCounters))]
[JsonSerializable(typeof(IReadOnlyList<SwitchInfo>))]
[JsonSerializable(typeof(SnapshotInfo))]
[JsonSerializable(typeof(ApiError))]
internal sealed partial class ApiJsonContext : JsonSerializerContext
{
}

/// <summary>The body of every 4xx/5xx answer: one line naming the problem.</summary>
public sealed record ApiError(string Error);
