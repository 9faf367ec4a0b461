using System.Net.Sockets;

namespace ActorVmm.Host.Api;

/// <summary>An HttpClient for a server on a Unix socket (the API of <c>actorvmm serve</c>): the CLI client, tests and benchmarks.</summary>
public static class UnixSocketHttp
{
    public static HttpClient CreateClient(string socketPath, TimeSpan timeout) =>
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
            Timeout = timeout,
        };
}
