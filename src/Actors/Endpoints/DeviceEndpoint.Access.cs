using System.Buffers.Binary;
using ActorVmm.Devices;
using Akka.Actor;
using Akka.Event;

namespace ActorVmm.Actors.Endpoints;

/// <summary>Which of a device's address spaces an access is for.</summary>
public enum AccessSpace
{
    /// <summary>The device's bus range (MMIO or port I/O).</summary>
    Bus,

    /// <summary>Its PCI configuration space (<see cref="IConfigSpace"/>).</summary>
    PciConfig,
}

/// <summary>The register paths: inline when the device is idle, else posted to the actor, bounded.</summary>
public sealed partial class DeviceEndpoint
{
    private void ReadIn(AccessSpace space, ulong offset, Span<byte> data)
    {
        if (ServeFailStopped(space, offset, data, default, isRead: true))
        {
            return;
        }

        if (space == AccessSpace.Bus && _dropper is { } dropper && dropper.ShouldDropRead(offset, data.Length))
        {
            DropRead(offset, data);
            return;
        }

        if (TryEnterInline(out var device))
        {
            try
            {
                Access(device, space, offset, data, default, isRead: true);
                _inlineAccesses++;
            }
            catch (Exception ex)
            {
                data.Fill(0xff);
                CrashedInline(ex);
            }
            finally
            {
                _gate.Exit();
            }

            return;
        }

        ReadPosted(space, offset, data);
    }

    private void WriteIn(AccessSpace space, ulong offset, ReadOnlySpan<byte> data)
    {
        if (ServeFailStopped(space, offset, default, data, isRead: false))
        {
            return;
        }

        if (TryEnterInline(out var device))
        {
            try
            {
                Access(device, space, offset, default, data, isRead: false);
                _inlineAccesses++;
            }
            catch (Exception ex)
            {
                CrashedInline(ex);
            }
            finally
            {
                _gate.Exit();
            }

            return;
        }

        var actor = _actor;
        if (_stopped || actor is null || data.Length > 8)
        {
            Interlocked.Increment(ref _deadWrites);
            return;
        }

        Span<byte> buffer = stackalloc byte[8];
        buffer.Clear();
        data.CopyTo(buffer);
        var value = BinaryPrimitives.ReadUInt64LittleEndian(buffer);
        PostedAccessInfo.MarkPosted();
        if (Interlocked.Increment(ref _pending) <= _maxPosted)
        {
            actor.Tell(new DeviceProtocol.Write(space, offset, value, data.Length));
            return;
        }

        // Over the bound: this write waits for its turn as a read would, so the mailbox stays bounded.
        Interlocked.Increment(ref _waitedWrites);
        var slot = ReplySlot.Current;
        var ticket = slot.Begin();
        actor.Tell(new DeviceProtocol.Write(space, offset, value, data.Length) { Slot = slot, Ticket = ticket });
        WaitForReply(slot, ticket, out _, out _);
    }

    private bool ServeFailStopped(AccessSpace space, ulong offset, Span<byte> read, ReadOnlySpan<byte> write, bool isRead)
    {
        var device = _failStopped;
        if (device is null)
        {
            return false;
        }

        lock (_gate)
        {
            try
            {
                Access(device, space, offset, read, write, isRead);
            }
            catch (Exception)
            {
                // A fail-stopped device is past supervision; it answers all-ones instead of failing again.
                read.Fill(0xff);
                CountFailure();
            }
        }

        return true;
    }

    /// <summary>A dropped read (fault injection): no message, no reply; the vCPU waits out the read timeout.</summary>
    private void DropRead(ulong offset, Span<byte> data)
    {
        var slot = ReplySlot.Current;
        var remaining = _readTimeout;
        var slice = TimeSpan.FromMilliseconds(100);
        while (remaining > TimeSpan.Zero && !_stopped && !slot.Interrupted)
        {
            var wait = remaining < slice ? remaining : slice;
            Thread.Sleep(wait);
            remaining -= wait;
        }

        data.Fill(0xff);
        Interlocked.Increment(ref _readTimeouts);
        _log?.Warning("Device {0}: read of {1} bytes at offset 0x{2:x} dropped (injected fault); the guest reads all-ones after {3} ms", Name, data.Length, offset, (long)_readTimeout.TotalMilliseconds);
    }

    private void ReadPosted(AccessSpace space, ulong offset, Span<byte> data)
    {
        var actor = _actor;
        if (_stopped || actor is null || data.Length > 8)
        {
            Interlocked.Increment(ref _deadReads);
            data.Fill(0xff);
            return;
        }

        var slot = ReplySlot.Current;
        var ticket = slot.Begin();
        var postedAt = ActorVmm.Kvm.Timing.CycleClock.Now();
        var traceInfo = PostedAccessInfo.MarkPosted();
        Interlocked.Increment(ref _pending);
        actor.Tell(new DeviceProtocol.Read(space, offset, data.Length, slot, ticket));
        if (WaitForReply(slot, ticket, out var value, out var startedTicks))
        {
            traceInfo.QueuedTicks = startedTicks > postedAt ? startedTicks - postedAt : 0;
            Span<byte> buffer = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(buffer, value);
            buffer[..data.Length].CopyTo(data);
            return;
        }

        data.Fill(0xff);
        if (_stopped || slot.Interrupted)
        {
            Interlocked.Increment(ref _deadReads);
        }
        else
        {
            Interlocked.Increment(ref _readTimeouts);
            _log?.Warning(
                "Device {0}: read of {1} bytes at offset 0x{2:x} got no answer within {3} ms; the guest reads all-ones",
                Name,
                data.Length,
                offset,
                (long)_readTimeout.TotalMilliseconds);
        }
    }

    /// <summary>
    /// Waits for the actor's answer to <paramref name="ticket"/>: up to the read timeout, in slices, and no longer
    /// once the device stopped or the vCPU's VM is pausing or stopping (<see cref="ReplySlot.Interrupt"/>).
    /// </summary>
    private bool WaitForReply(ReplySlot slot, int ticket, out ulong value, out long startedTicks)
    {
        var remaining = _readTimeout;
        var slice = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            var wait = remaining < slice ? remaining : slice;
            var answered = slot.Wait(wait);
            remaining -= wait;
            if (answered || _stopped || slot.Interrupted || remaining <= TimeSpan.Zero)
            {
                return slot.Finish(ticket, out value, out startedTicks);
            }
        }
    }
}
