using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace ActorVmm.Bench;

/// <summary>
/// A minimal QMP client (QEMU's JSON monitor on a Unix socket, one JSON object a line): connects, reads the greeting,
/// enters command mode, then runs one command at a time; the asynchronous events that come meanwhile are kept for
/// <see cref="WaitForEvent"/>. Every read gives up after <see cref="ReadTimeout"/>.
/// </summary>
internal sealed class QmpClient : IDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;
    private readonly Queue<JsonElement> _events = new();

    private QmpClient(Socket socket)
    {
        _socket = socket;
        var stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(stream, Encoding.UTF8);
        _writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        socket.ReceiveTimeout = (int)ReadTimeout.TotalMilliseconds;
    }

    private static TimeSpan ReadTimeout => TimeSpan.FromMinutes(5);

    /// <summary>Connects (retrying while QEMU has not created the socket yet) and sends <c>qmp_capabilities</c>.</summary>
    public static QmpClient Connect(string path, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(path));
                var client = new QmpClient(socket);
                client.ReadMessage();
                client.Execute("qmp_capabilities");
                return client;
            }
            catch (SocketException) when (clock.Elapsed < timeout)
            {
                socket.Dispose();
                Thread.Sleep(5);
            }
        }
    }

    /// <summary>Runs a command and returns its <c>return</c> value; an <c>error</c> answer throws with QEMU's description.</summary>
    public JsonElement Execute(string command, object? arguments = null)
    {
        var request = arguments is null
            ? JsonSerializer.Serialize(new Dictionary<string, object> { ["execute"] = command })
            : JsonSerializer.Serialize(new Dictionary<string, object> { ["execute"] = command, ["arguments"] = arguments });
        _writer.WriteLine(request);
        while (true)
        {
            var answer = ReadMessage();
            if (answer.TryGetProperty("return", out var value))
            {
                return value;
            }

            if (answer.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException($"QMP {command}: {error.GetProperty("desc").GetString()}");
            }

            _events.Enqueue(answer);
        }
    }

    /// <summary>Turns on the <c>events</c> migration capability: QEMU then reports each migration state as a MIGRATION event.</summary>
    public void EnableMigrationEvents() =>
        Execute("migrate-set-capabilities", new { capabilities = new[] { new { capability = "events", state = true } } });

    /// <summary>Waits for a MIGRATION event that ends a migration; returns its status (completed, failed or cancelled).</summary>
    public string WaitForMigrationEnd()
    {
        while (true)
        {
            var message = _events.Count > 0 ? _events.Dequeue() : ReadMessage();
            if (message.TryGetProperty("event", out var name) && name.GetString() == "MIGRATION"
                && message.GetProperty("data").GetProperty("status").GetString() is { } status
                && status is "completed" or "failed" or "cancelled")
            {
                return status;
            }
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        _writer.Dispose();
        _socket.Dispose();
    }

    private JsonElement ReadMessage()
    {
        var line = _reader.ReadLine() ?? throw new IOException("QMP socket closed");
        using var document = JsonDocument.Parse(line);
        return document.RootElement.Clone();
    }
}
