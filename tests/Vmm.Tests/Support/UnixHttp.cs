using System.Net.Sockets;

namespace ActorVmm.Vmm.Tests.Support;

/// <summary>An HttpClient that talks to a server on a Unix socket (<c>actorvmm serve --api-sock</c>).</summary>
public static class UnixHttp
{
    public static HttpClient Client(string socketPath, TimeSpan? timeout = null) =>
        new(new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellation) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellation);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        {
            BaseAddress = new Uri("http://actorvmm/"),
            Timeout = timeout ?? TimeSpan.FromMinutes(2),
        };
}
