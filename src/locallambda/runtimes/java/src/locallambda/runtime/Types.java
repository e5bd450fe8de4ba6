package locallambda.runtime;

import java.lang.reflect.GenericArrayType;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/** Generic type helpers: which type arguments a class gives to one of its supertypes. */
final class Types {

    private Types() {
    }

    /**
     * The actual type arguments that {@code type} (a class or parameterized type) gives to the generic
     * supertype {@code target}, with type variables substituted as far as they are known.
     *
     * @return the arguments, or null if {@code type} does not extend {@code target} or reaches it only
     *         through a raw reference (such as {@code implements RequestHandler})
     */
    static Type[] typeArguments(Type type, Class<?> target) {
        Class<?> raw = Json.rawClass(type);
        if (!target.isAssignableFrom(raw)) {
            return null;
        }
        Map<TypeVariable<?>, Type> env = new HashMap<>();
        if (type instanceof ParameterizedType) {
            Type[] args = ((ParameterizedType) type).getActualTypeArguments();
            TypeVariable<?>[] vars = raw.getTypeParameters();
            for (int i = 0; i < vars.length && i < args.length; i++) {
                env.put(vars[i], args[i]);
            }
        }
        return search(raw, env, target);
    }

    private static Type[] search(Class<?> c, Map<TypeVariable<?>, Type> env, Class<?> target) {
        if (c == target) {
            TypeVariable<?>[] vars = c.getTypeParameters();
            Type[] out = new Type[vars.length];
            for (int i = 0; i < vars.length; i++) {
                out[i] = env.getOrDefault(vars[i], vars[i]);
            }
            return out;
        }
        // depth first over the direct supertypes: interfaces, then the superclass
        for (Type it : c.getGenericInterfaces()) {
            Type[] r = searchSuper(it, env, target);
            if (r != null) {
                return r;
            }
        }
        Type sup = c.getGenericSuperclass();
        if (sup != null) {
            return searchSuper(sup, env, target);
        }
        return null;
    }

    private static Type[] searchSuper(Type t, Map<TypeVariable<?>, Type> env, Class<?> target) {
        Class<?> r = Json.rawClass(t);
        if (!target.isAssignableFrom(r)) {
            return null;
        }
        if (t instanceof Class && r == target && r.getTypeParameters().length > 0) {
            return null; // raw reference to the target
        }
        Map<TypeVariable<?>, Type> env2 = new HashMap<>();
        if (t instanceof ParameterizedType) {
            Type[] args = ((ParameterizedType) t).getActualTypeArguments();
            TypeVariable<?>[] vars = r.getTypeParameters();
            for (int i = 0; i < vars.length && i < args.length; i++) {
                env2.put(vars[i], substitute(args[i], env));
            }
        }
        return search(r, env2, target);
    }

    /** Replaces the type variables in {@code t} that {@code env} knows. */
    static Type substitute(Type t, Map<TypeVariable<?>, Type> env) {
        if (t instanceof TypeVariable) {
            return env.getOrDefault(t, t);
        }
        if (t instanceof ParameterizedType) {
            ParameterizedType pt = (ParameterizedType) t;
            Type[] args = pt.getActualTypeArguments().clone();
            boolean changed = false;
            for (int i = 0; i < args.length; i++) {
                Type s = substitute(args[i], env);
                if (s != args[i]) {
                    args[i] = s;
                    changed = true;
                }
            }
            return changed ? new PType((Class<?>) pt.getRawType(), args, pt.getOwnerType()) : t;
        }
        if (t instanceof GenericArrayType) {
            Type c = ((GenericArrayType) t).getGenericComponentType();
            Type s = substitute(c, env);
            if (s == c) {
                return t;
            }
            if (s instanceof Class) {
                return java.lang.reflect.Array.newInstance((Class<?>) s, 0).getClass();
            }
            return new GArray(s);
        }
        if (t instanceof WildcardType) {
            Type[] ub = ((WildcardType) t).getUpperBounds();
            return ub.length > 0 ? substitute(ub[0], env) : Object.class;
        }
        return t;
    }

    /** A generic array type built from a resolved component type. */
    private static final class GArray implements GenericArrayType {
        private final Type component;

        GArray(Type component) {
            this.component = component;
        }

        @Override
        public Type getGenericComponentType() {
            return component;
        }

        @Override
        public String toString() {
            return component.getTypeName() + "[]";
        }
    }

    /** A parameterized type built from resolved arguments. */
    private static final class PType implements ParameterizedType {
        private final Class<?> raw;
        private final Type[] args;
        private final Type owner;

        PType(Class<?> raw, Type[] args, Type owner) {
            this.raw = raw;
            this.args = args;
            this.owner = owner;
        }

        @Override
        public Type[] getActualTypeArguments() {
            return args.clone();
        }

        @Override
        public Type getRawType() {
            return raw;
        }

        @Override
        public Type getOwnerType() {
            return owner;
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof ParameterizedType)) {
                return false;
            }
            ParameterizedType p = (ParameterizedType) o;
            return raw.equals(p.getRawType()) && Arrays.equals(args, p.getActualTypeArguments())
                    && Objects.equals(owner, p.getOwnerType());
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(args) ^ raw.hashCode() ^ Objects.hashCode(owner);
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder(raw.getName()).append('<');
            for (int i = 0; i < args.length; i++) {
                if (i > 0) {
                    sb.append(", ");
                }
                sb.append(args[i].getTypeName());
            }
            return sb.append('>').toString();
        }
    }
}
