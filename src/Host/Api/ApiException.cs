namespace ActorVmm.Host.Api;

/// <summary>A request the API itself refuses before it reaches the service (bad id, body, query): status and one line.</summary>
internal sealed class ApiException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
