using ActorVmm.Actors.Virtio;

namespace ActorVmm.Host.Composition;

/// <summary>Disposes its members in reverse order of addition (vCPUs before the VM, the VM before guest memory).</summary>
internal sealed class CompositeDisposable : IDisposable
{
    private readonly List<IDisposable> _items = [];

    public T Add<T>(T item)
        where T : IDisposable
    {
        _items.Add(item);
        return item;
    }

    public void Dispose()
    {
        for (var i = _items.Count - 1; i >= 0; i--)
        {
            try
            {
                _items[i].Dispose();
            }
            catch (Exception)
            {
                // Keep releasing the rest: a failing close must not leak guest memory or fds.
            }
        }

        _items.Clear();
    }
}
