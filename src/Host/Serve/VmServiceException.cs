namespace ActorVmm.Host.Serve;

/// <summary>A request <see cref="IVmService"/> refuses: the HTTP status to answer with and one line naming the problem.</summary>
public class VmServiceException(int status, string message, Exception? inner = null) : Exception(message, inner)
{
    public int Status { get; } = status;

    public static VmServiceException BadRequest(string message, Exception? inner = null) => new(400, message, inner);

    public static VmServiceException NotFound(string message) => new(404, message);

    public static VmServiceException Conflict(string message) => new(409, message);
}
