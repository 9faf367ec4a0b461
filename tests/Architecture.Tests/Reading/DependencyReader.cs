using System.Reflection;

namespace ActorVmm.Architecture.Tests.Reading;

/// <summary>Reads the types a set of types depends on: signatures (base type, interfaces, generic arguments and
/// constraints, fields, properties, events, parameters, return types, attributes) and method bodies (locals, catch
/// types and every token in the IL). Keeps targets whose namespace starts with the given prefix.</summary>
public sealed class DependencyReader
{
    private const BindingFlags Declared = BindingFlags.DeclaredOnly | BindingFlags.Public | BindingFlags.NonPublic
        | BindingFlags.Instance | BindingFlags.Static;

    private readonly string _targetPrefix;

    public DependencyReader(string targetPrefix)
    {
        _targetPrefix = targetPrefix;
    }

    public static IEnumerable<Type> TypesOf(IEnumerable<Assembly> assemblies) => assemblies.SelectMany(a => a.GetTypes());

    public DependencyScan Read(IEnumerable<Type> types)
    {
        var scan = new Scan(this);
        foreach (var type in types)
        {
            scan.ReadType(type);
        }

        return new DependencyScan(scan.Dependencies, scan.Calls);
    }

    private bool Keeps(Type type) => TypeNames.NamespaceOf(type).StartsWith(_targetPrefix, StringComparison.Ordinal);

    /// <summary>One read: collects and de-duplicates (one Via kept per source/target pair).</summary>
    private sealed class Scan
    {
        private readonly DependencyReader _reader;
        private readonly HashSet<(Type, Type)> _seenTypes = [];
        private readonly HashSet<(MethodBase, MethodBase)> _seenCalls = [];

        public Scan(DependencyReader reader)
        {
            _reader = reader;
        }

        public List<TypeDependency> Dependencies { get; } = [];

        public List<MethodCall> Calls { get; } = [];

        public void ReadType(Type type)
        {
            Add(type, type.BaseType, "base type");
            foreach (var face in type.GetInterfaces())
            {
                Add(type, face, "interface");
            }

            foreach (var argument in type.GetGenericArguments())
            {
                Add(type, argument, "generic argument");
            }

            AddAttributes(type, type, "attribute");
            foreach (var field in type.GetFields(Declared))
            {
                var via = PropertyOfBackingField(field.Name) ?? field.Name;
                Add(type, field.FieldType, via);
                AddAttributes(type, field, via);
            }

            foreach (var property in type.GetProperties(Declared))
            {
                Add(type, property.PropertyType, property.Name);
                AddAttributes(type, property, property.Name);
            }

            foreach (var @event in type.GetEvents(Declared))
            {
                Add(type, @event.EventHandlerType, @event.Name);
            }

            foreach (var method in type.GetMethods(Declared))
            {
                Add(type, method.ReturnType, method.Name);
                foreach (var argument in method.GetGenericArguments())
                {
                    Add(type, argument, method.Name);
                }

                ReadMethod(type, method);
            }

            foreach (var constructor in type.GetConstructors(Declared))
            {
                ReadMethod(type, constructor);
            }
        }

        private void ReadMethod(Type type, MethodBase method)
        {
            foreach (var parameter in method.GetParameters())
            {
                Add(type, parameter.ParameterType, method.Name);
            }

            AddAttributes(type, method, method.Name);
            var body = method.GetMethodBody();
            if (body is null)
            {
                return;
            }

            foreach (var local in body.LocalVariables)
            {
                Add(type, local.LocalType, method.Name);
            }

            foreach (var clause in body.ExceptionHandlingClauses)
            {
                if (clause.Flags == ExceptionHandlingClauseOptions.Clause)
                {
                    Add(type, clause.CatchType, method.Name);
                }
            }

            foreach (var member in IlOperandReader.ReadTokens(method))
            {
                AddMember(type, method, member);
            }
        }

        private void AddMember(Type type, MethodBase method, MemberInfo member)
        {
            switch (member)
            {
                case Type target:
                    Add(type, target, method.Name);
                    break;
                case FieldInfo field:
                    Add(type, field.DeclaringType, method.Name);
                    Add(type, field.FieldType, method.Name);
                    break;
                case MethodBase callee:
                    if (_seenCalls.Add((method, callee)))
                    {
                        Calls.Add(new MethodCall(method, callee));
                    }

                    Add(type, callee.DeclaringType, method.Name);
                    if (callee is MethodInfo info)
                    {
                        Add(type, info.ReturnType, method.Name);
                        if (info.IsGenericMethod)
                        {
                            foreach (var argument in info.GetGenericArguments())
                            {
                                Add(type, argument, method.Name);
                            }
                        }
                    }

                    foreach (var parameter in SafeParameters(callee))
                    {
                        Add(type, parameter.ParameterType, method.Name);
                    }

                    break;
            }
        }

        private void AddAttributes(Type type, MemberInfo member, string via)
        {
            IList<CustomAttributeData> attributes;
            try
            {
                attributes = member.GetCustomAttributesData();
            }
            catch (Exception e) when (e is TypeLoadException or FileNotFoundException)
            {
                return;
            }

            foreach (var attribute in attributes)
            {
                Add(type, attribute.AttributeType, via);
            }
        }

        private void Add(Type source, Type? target, string via)
        {
            foreach (var named in Unwrap(target))
            {
                if (_reader.Keeps(named) && _seenTypes.Add((source, named)))
                {
                    Dependencies.Add(new TypeDependency(source, named, via));
                }
            }
        }

        /// <summary>"&lt;Name&gt;k__BackingField" → "Name": an auto-property's field is shown as the property.</summary>
        private static string? PropertyOfBackingField(string field) =>
            field.StartsWith('<') && field.EndsWith(">k__BackingField", StringComparison.Ordinal)
                ? field[1..^">k__BackingField".Length]
                : null;

        private static ParameterInfo[] SafeParameters(MethodBase method)
        {
            try
            {
                return method.GetParameters();
            }
            catch (Exception e) when (e is TypeLoadException or FileNotFoundException or NotSupportedException)
            {
                return [];
            }
        }
    }

    /// <summary>The named types inside a type: element types of arrays, pointers and by-refs, generic definitions
    /// and their arguments, generic parameters' constraints, function pointers' signatures.</summary>
    private static IEnumerable<Type> Unwrap(Type? type)
    {
        var found = new List<Type>();
        Unwrap(type, found, []);
        return found;
    }

    private static void Unwrap(Type? type, List<Type> found, HashSet<Type> visited)
    {
        if (type is null || !visited.Add(type))
        {
            return;
        }

        if (type.HasElementType)
        {
            Unwrap(type.GetElementType(), found, visited);
        }
        else if (type.IsGenericParameter)
        {
            foreach (var constraint in type.GetGenericParameterConstraints())
            {
                Unwrap(constraint, found, visited);
            }
        }
        else if (type.IsFunctionPointer)
        {
            Unwrap(type.GetFunctionPointerReturnType(), found, visited);
            foreach (var parameter in type.GetFunctionPointerParameterTypes())
            {
                Unwrap(parameter, found, visited);
            }
        }
        else if (type.IsConstructedGenericType)
        {
            Unwrap(type.GetGenericTypeDefinition(), found, visited);
            foreach (var argument in type.GetGenericArguments())
            {
                Unwrap(argument, found, visited);
            }
        }
        else
        {
            found.Add(type);
        }
    }
}
