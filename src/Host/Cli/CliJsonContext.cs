using System.Text.Json.Serialization;

namespace ActorVmm.Host.Cli;

/// <summary>The client's few JSON values, generated at build time for the Native AOT build.</summary>
[JsonSerializable(typeof(string))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
}
