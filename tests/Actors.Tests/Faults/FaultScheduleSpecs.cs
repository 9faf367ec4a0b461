using ActorVmm.Actors.Faults;
using Xunit;

namespace ActorVmm.Actors.Tests.Faults;

public class FaultScheduleSpecs
{
    private static List<int> Fired(FaultSchedule schedule, int requests, ulong? offset = null) =>
        Enumerable.Range(1, requests).Where(_ => schedule.Fire(offset)).ToList();

    [Fact]
    public void Every_N_should_fire_on_the_Nth_2Nth_and_3Nth_request()
    {
        var schedule = new FaultSchedule(FaultPlan.Parse("disk0:crash,every=4"));

        Assert.Equal([4, 8, 12], Fired(schedule, 14));
        Assert.Equal(14, schedule.Requests);
    }

    [Fact]
    public void A_probability_trigger_should_fire_on_the_same_requests_for_the_same_seed()
    {
        var first = Fired(new FaultSchedule(FaultPlan.Parse("disk0:crash,p=0.1,seed=7")), 2000);
        var again = Fired(new FaultSchedule(FaultPlan.Parse("disk0:crash,p=0.1,seed=7")), 2000);
        var other = Fired(new FaultSchedule(FaultPlan.Parse("disk0:crash,p=0.1,seed=8")), 2000);

        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        Assert.InRange(first.Count, 140, 260);
    }

    [Fact]
    public void A_probability_trigger_should_follow_the_SplitMix64_sequence()
    {
        // SplitMix64(seed 0)'s first output is 0xE220A8397B1DCDAF (the published reference value).
        var random = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, random.Next());

        var expected = new List<int>();
        var generator = new SplitMix64(3);
        for (var i = 1; i <= 50; i++)
        {
            if (generator.NextDouble() < 0.3)
            {
                expected.Add(i);
            }
        }

        Assert.Equal(expected, Fired(new FaultSchedule(FaultPlan.Parse("d0:drop,p=0.3,seed=3")), 50));
    }

    [Fact]
    public void After_should_fire_once_on_the_first_request_at_or_after_the_duration()
    {
        var clock = new ManualClock();
        var schedule = new FaultSchedule(FaultPlan.Parse("disk0:crash,after=5s"), clock);

        Assert.Empty(Fired(schedule, 3));
        clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.Empty(Fired(schedule, 3));
        clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal([1], Fired(schedule, 3));
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Empty(Fired(schedule, 3));
    }

    [Fact]
    public void Offset_should_fire_on_every_access_at_that_offset_and_never_for_virtio_requests()
    {
        var schedule = new FaultSchedule(FaultPlan.Parse("serial0:corrupt,offset=5"));

        Assert.False(schedule.Fire(4));
        Assert.True(schedule.Fire(5));
        Assert.True(schedule.Fire(5));
        Assert.False(schedule.Fire(null));
    }

    [Fact]
    public void No_trigger_should_fire_on_every_request()
    {
        Assert.Equal([1, 2, 3], Fired(new FaultSchedule(FaultPlan.Parse("rng0:drop")), 3));
    }
}
