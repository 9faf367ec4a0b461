using Akka.Actor;

namespace ActorVmm.Actors.Vm;

/// <summary>
/// Props that create their actor with a plain delegate. <c>Props.Create(() =&gt; new T(...))</c> builds an expression
/// tree, reads its arguments back by reflection and constructs the actor through <see cref="Activator"/>: start-up
/// work the VMM does once per actor, JIT-compiled and slow under nested KVM. A factory is called directly.
/// </summary>
public static class FactoryProps
{
    /// <summary>Props whose actor <paramref name="factory"/> makes (a fresh instance on each call, restarts included).</summary>
    public static Props Create<TActor>(Func<TActor> factory)
        where TActor : ActorBase
    {
        ArgumentNullException.ThrowIfNull(factory);
        return Props.CreateBy(new Producer<TActor>(factory));
    }

    private sealed class Producer<TActor>(Func<TActor> factory) : IIndirectActorProducer
        where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => factory();

        public void Release(ActorBase actor)
        {
        }
    }
}
