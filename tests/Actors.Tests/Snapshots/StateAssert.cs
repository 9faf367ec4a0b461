using System.Collections;
using System.Reflection;
using Xunit.Sdk;

namespace ActorVmm.Actors.Tests.Snapshots;

/// <summary>
/// Structural comparison of saved states by reflection (records holding arrays compare arrays by reference), and a
/// check that a sample sets every field to a non-default value, so a field the codec forgets cannot pass unseen.
/// </summary>
internal static class StateAssert
{
    public static void DeepEqual(object? expected, object? actual, string path = "state")
    {
        if (expected is null || actual is null)
        {
            if (expected is not null || actual is not null)
            {
                throw new XunitException($"{path}: expected {expected ?? "null"}, got {actual ?? "null"}");
            }

            return;
        }

        if (expected is IEnumerable expectedItems && expected is not string)
        {
            if (actual is not IEnumerable actualItems)
            {
                throw new XunitException($"{path}: expected a collection, got {actual.GetType().Name}");
            }

            var e = expectedItems.Cast<object?>().ToList();
            var a = actualItems.Cast<object?>().ToList();
            if (e.Count != a.Count)
            {
                throw new XunitException($"{path}: expected {e.Count} items, got {a.Count}");
            }

            for (var i = 0; i < e.Count; i++)
            {
                DeepEqual(e[i], a[i], $"{path}[{i}]");
            }

            return;
        }

        if (expected.GetType() != actual.GetType())
        {
            throw new XunitException($"{path}: expected a {expected.GetType().Name}, got a {actual.GetType().Name}");
        }

        if (IsLeaf(expected.GetType()))
        {
            var same = expected is DateTimeOffset eo && actual is DateTimeOffset ao
                ? eo.Equals(ao) && eo.Offset == ao.Offset
                : expected.Equals(actual);
            if (!same)
            {
                throw new XunitException($"{path}: expected {expected}, got {actual}");
            }

            return;
        }

        foreach (var property in PropertiesOf(expected.GetType()))
        {
            DeepEqual(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}");
        }
    }

    /// <summary>Every field, at every depth, is set: not null, not zero, not false, no empty collection.</summary>
    public static void AllSet(object? value, string path = "state")
    {
        switch (value)
        {
            case null:
                throw new XunitException($"{path} is null: give the sample a value");
            case string s when s.Length == 0:
                throw new XunitException($"{path} is empty: give the sample a value");
            case IEnumerable items and not string:
                var list = items.Cast<object?>().ToList();
                if (list.Count == 0)
                {
                    throw new XunitException($"{path} is empty: give the sample a value");
                }

                for (var i = 0; i < list.Count; i++)
                {
                    AllSet(list[i], $"{path}[{i}]");
                }

                return;
        }

        var type = value.GetType();
        if (IsLeaf(type))
        {
            if (type.IsValueType && value.Equals(Activator.CreateInstance(type)))
            {
                throw new XunitException($"{path} has its default value {value}: give the sample another");
            }

            return;
        }

        foreach (var property in PropertiesOf(type))
        {
            AllSet(property.GetValue(value), $"{path}.{property.Name}");
        }
    }

    private static bool IsLeaf(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(decimal)
        || type == typeof(DateTime) || type == typeof(DateTimeOffset) || type == typeof(TimeSpan);

    private static IEnumerable<PropertyInfo> PropertiesOf(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.GetIndexParameters().Length == 0);
}
