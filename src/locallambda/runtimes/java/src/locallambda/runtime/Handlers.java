package locallambda.runtime;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Resolves a {@code _HANDLER} string to an {@link Invoker}, the way the AWS Java runtime does.
 *
 * <ul>
 *   <li>{@code package.Class}: the class must implement {@link RequestStreamHandler} (preferred) or
 *       {@link RequestHandler} with concrete type arguments; it is instantiated once with its public
 *       no-argument constructor.</li>
 *   <li>{@code package.Class::method}: the public methods of that name are ranked as AWS ranks them
 *       (non-bridge first; longer signatures first, a trailing {@link Context} counting double), and the
 *       first with a supported signature is used: {@code (I)}, {@code (I, Context)}, {@code (Context)},
 *       {@code ()}, {@code (InputStream)}, {@code (OutputStream)}, {@code (InputStream, OutputStream)},
 *       {@code (InputStream, Context)}, {@code (OutputStream, Context)} and
 *       {@code (InputStream, OutputStream, Context)}. Static methods need no instance.</li>
 * </ul>
 *
 * <p>Failures are thrown as {@link InitFault}, with AWS's messages and error types.</p>
 */
final class Handlers {

    private Handlers() {
    }

    private static final byte[] JSON_NULL = {'n', 'u', 'l', 'l'};

    /** Runs one invocation: the event in, the result bytes out. */
    interface Invoker {
        void invoke(byte[] event, ByteArrayOutputStream out, Context context) throws Throwable;
    }

    /** A failure to load or instantiate the handler. */
    static final class InitFault extends RuntimeException {
        private static final long serialVersionUID = 1L;

        /** {@code errorMessage} of the init error. */
        final String msg;
        /** {@code errorType} of the init error; null when AWS sends none (a message-only fault). */
        final String errorType;
        /** The stack trace text for the log; may be null. */
        final String trace;

        InitFault(String msg, String errorType, String trace) {
            super(msg, null, false, false);
            this.msg = msg;
            this.errorType = errorType;
            this.trace = trace;
        }

        static InitFault of(Throwable t) {
            String m = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
            return new InitFault(m, t.getClass().getName(), trace(t));
        }

        static InitFault message(String msg) {
            return new InitFault(msg, null, null);
        }

        /** The text AWS logs for a fault: {@code "msg: type\ntrace\n"}, or {@code "msg\n"}. */
        String reportable() {
            if (errorType != null || trace != null) {
                return msg + ": " + (errorType == null ? "" : errorType) + "\n" + (trace == null ? "" : trace) + "\n";
            }
            return msg + "\n";
        }
    }

    /** The printed stack trace of {@code t}, after removing the runtime's own frames. */
    static String trace(Throwable t) {
        Bootstrap.filterStackTrace(t);
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sw.toString();
    }

    /**
     * Loads the handler.
     *
     * @throws InitFault if the handler string is invalid, the class cannot be loaded or initialized, it
     *                   has no usable handler interface or method, or its constructor fails
     */
    static Invoker load(String handler, ClassLoader loader) {
        if (handler == null) {
            handler = "";
        }
        handler = handler.trim();
        int colon = handler.lastIndexOf("::");
        String className = colon < 0 ? handler : handler.substring(0, colon);
        String methodName = colon < 0 ? null : handler.substring(colon + 2);
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            throw InitFault.message("Invalid handler: `" + handler + "'");
        }
        Class<?> clazz;
        try {
            clazz = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            throw new InitFault("Class not found: " + className, e.getClass().getName(), trace(e));
        } catch (Throwable t) {
            // NoClassDefFoundError, ExceptionInInitializerError (a static initializer threw), ...
            throw new InitFault("Error loading class " + className + (t.getMessage() == null ? "" : ": " + t.getMessage()),
                    t.getClass().getName(), trace(t));
        }
        return methodName == null ? loadClassHandler(clazz) : loadMethodHandler(clazz, methodName);
    }

    // ------------------------------------------------------------------ class handlers

    @SuppressWarnings({"rawtypes", "unchecked"})
    private static Invoker loadClassHandler(Class<?> clazz) {
        if (RequestStreamHandler.class.isAssignableFrom(clazz)) {
            return new StreamInvoker((RequestStreamHandler) newInstance(clazz));
        }
        if (RequestHandler.class.isAssignableFrom(clazz)) {
            Type[] pt = Types.typeArguments(clazz, RequestHandler.class);
            if (pt == null) {
                throw InitFault.message("Class " + clazz.getName()
                        + " does not implement RequestHandler with concrete type parameters");
            }
            if (pt.length != 2) {
                throw InitFault.message("Invalid class signature for RequestHandler. Expected two generic types, got "
                        + pt.length);
            }
            for (Type t : pt) {
                if (t instanceof TypeVariable) {
                    boolean bound = false;
                    for (Type b : ((TypeVariable<?>) t).getBounds()) {
                        if (!Object.class.equals(b)) {
                            bound = true;
                            break;
                        }
                    }
                    if (!bound) {
                        throw InitFault.message("Class " + clazz.getName()
                                + " does not implement RequestHandler with concrete type parameters: parameter "
                                + t + " has no upper bound.");
                    }
                }
            }
            return new PojoInvoker(new HandlerCall((RequestHandler) newInstance(clazz)), pt[0],
                    isVoid(pt[1]) ? null : pt[1]);
        }
        throw InitFault.message("Class does not implement an appropriate handler interface: " + clazz.getName());
    }

    /** Creates the handler instance with the public no-argument constructor. */
    private static Object newInstance(Class<?> clazz) {
        Constructor<?> ctor;
        try {
            ctor = clazz.getConstructor();
        } catch (NoSuchMethodException e) {
            if (clazz.getEnclosingClass() != null && !Modifier.isStatic(clazz.getModifiers())) {
                throw InitFault.of(new Exception("Class " + clazz.getName()
                        + " cannot be instantiated because it is a non-static inner class"));
            }
            throw InitFault.of(new Exception("Class " + clazz.getName() + " has no public zero-argument constructor", e));
        }
        try {
            return ctor.newInstance();
        } catch (InvocationTargetException e) {
            throw InitFault.of(e.getCause() == null ? e : e.getCause());
        } catch (InstantiationException e) {
            throw InitFault.of(e.getCause() == null ? e : e.getCause());
        } catch (Throwable t) {
            throw InitFault.of(t);
        }
    }

    private static boolean isVoid(Type t) {
        return t == void.class || t == Void.class;
    }

    // ------------------------------------------------------------------ method handlers

    private static boolean isContext(Type t) {
        return Context.class.equals(t);
    }

    private static int rank(Method m) {
        Class<?>[] p = m.getParameterTypes();
        return p.length + (p.length > 0 && isContext(p[p.length - 1]) ? 1 : 0);
    }

    /** AWS's ranking of overloads: non-bridge first, then longer (Context counting double) first. */
    private static final class Priority implements Comparator<Method> {
        @Override
        public int compare(Method l, Method r) {
            if (!l.isBridge() && r.isBridge()) {
                return -1;
            }
            if (l.isBridge() && !r.isBridge()) {
                return 1;
            }
            return -Integer.compare(rank(l), rank(r));
        }
    }

    private static Invoker loadMethodHandler(Class<?> clazz, String methodName) {
        Method[] all;
        try {
            all = clazz.getMethods();
        } catch (NoClassDefFoundError e) {
            throw new InitFault("Error loading method " + methodName + " on class " + clazz.getName(),
                    e.getClass().getName(), trace(e));
        }
        List<Method> candidates = new ArrayList<>();
        for (Method m : all) {
            if (m.getName().equals(methodName)) {
                candidates.add(m);
            }
        }
        candidates.sort(new Priority());
        for (Method m : candidates) {
            Invoker inv = fromOverload(clazz, m);
            if (inv != null) {
                return inv;
            }
        }
        throw InitFault.message("No public method named " + methodName
                + " with appropriate method signature found on class " + clazz.getName());
    }

    private static Invoker fromOverload(Class<?> clazz, Method m) {
        Type r = m.getGenericReturnType();
        Type[] p = m.getGenericParameterTypes();
        switch (p.length) {
            case 0:
                return pojoMethod(clazz, m, null, r, false);
            case 1:
                if (InputStream.class.equals(p[0])) {
                    return streamMethod(clazz, m, true, false, false);
                }
                if (OutputStream.class.equals(p[0])) {
                    return streamMethod(clazz, m, false, true, false);
                }
                if (isContext(p[0])) {
                    return pojoMethod(clazz, m, null, r, true);
                }
                return pojoMethod(clazz, m, p[0], r, false);
            case 2:
                if (OutputStream.class.equals(p[0])) {
                    return isContext(p[1]) ? streamMethod(clazz, m, false, true, true) : null;
                }
                if (isContext(p[0])) {
                    return null;
                }
                if (InputStream.class.equals(p[0])) {
                    if (OutputStream.class.equals(p[1])) {
                        return streamMethod(clazz, m, true, true, false);
                    }
                    if (isContext(p[1])) {
                        return streamMethod(clazz, m, true, false, true);
                    }
                    return null;
                }
                return isContext(p[1]) ? pojoMethod(clazz, m, p[0], r, true) : null;
            case 3:
                if (InputStream.class.equals(p[0]) && OutputStream.class.equals(p[1]) && isContext(p[2])) {
                    return streamMethod(clazz, m, true, true, true);
                }
                return null;
            default:
                return null;
        }
    }

    private static Object instanceFor(Class<?> clazz, Method m) {
        return Modifier.isStatic(m.getModifiers()) ? null : newInstance(clazz);
    }

    /** Public methods of non-public classes can only be called reflectively once made accessible. */
    private static void makeCallable(Method m) {
        if (!Modifier.isPublic(m.getDeclaringClass().getModifiers())) {
            try {
                m.setAccessible(true);
            } catch (RuntimeException ignored) {
                // invoke will report it
            }
        }
    }

    private static Invoker pojoMethod(Class<?> clazz, Method m, Type pType, Type rType, boolean needsContext) {
        Object instance = instanceFor(clazz, m);
        makeCallable(m);
        Call call = new MethodCall(m, instance, pType != null, needsContext);
        return new PojoInvoker(call, pType, isVoid(rType) ? null : rType);
    }

    private static Invoker streamMethod(Class<?> clazz, Method m, boolean needsInput, boolean needsOutput,
                                        boolean needsContext) {
        if (!isVoid(m.getReturnType())) {
            System.err.println("Will ignore return type " + m.getReturnType() + " on byte stream handler");
        }
        Object instance = instanceFor(clazz, m);
        makeCallable(m);
        return new StreamMethodInvoker(m, instance, needsInput, needsOutput, needsContext);
    }

    // Invokers are plain classes rather than lambdas: a lambda's first use costs the JVM start-up time.

    /** A {@link RequestStreamHandler} instance. */
    private static final class StreamInvoker implements Invoker {
        private final RequestStreamHandler handler;

        StreamInvoker(RequestStreamHandler handler) {
            this.handler = handler;
        }

        @Override
        public void invoke(byte[] event, ByteArrayOutputStream out, Context context) throws Throwable {
            handler.handleRequest(new ByteArrayInputStream(event), out, context);
        }
    }

    /** A method with stream parameters. */
    private static final class StreamMethodInvoker implements Invoker {
        private final Method method;
        private final Object instance;
        private final boolean needsInput;
        private final boolean needsOutput;
        private final boolean needsContext;
        private final int argc;

        StreamMethodInvoker(Method method, Object instance, boolean needsInput, boolean needsOutput,
                            boolean needsContext) {
            this.method = method;
            this.instance = instance;
            this.needsInput = needsInput;
            this.needsOutput = needsOutput;
            this.needsContext = needsContext;
            this.argc = (needsInput ? 1 : 0) + (needsOutput ? 1 : 0) + (needsContext ? 1 : 0);
        }

        @Override
        public void invoke(byte[] event, ByteArrayOutputStream out, Context context) throws Throwable {
            Object[] args = new Object[argc];
            int i = 0;
            if (needsInput) {
                args[i++] = new ByteArrayInputStream(event);
            }
            if (needsOutput) {
                args[i++] = out;
            }
            if (needsContext) {
                args[i] = context;
            }
            try {
                method.invoke(instance, args);
            } catch (InvocationTargetException e) {
                throw e.getCause() == null ? e : e.getCause();
            }
            if (!needsOutput) {
                out.write(JSON_NULL);
            }
        }
    }

    /** A {@link RequestHandler} instance as a {@link Call}. */
    @SuppressWarnings({"rawtypes", "unchecked"})
    private static final class HandlerCall implements Call {
        private final RequestHandler handler;

        HandlerCall(RequestHandler handler) {
            this.handler = handler;
        }

        @Override
        public Object call(Object input, Context context) {
            return handler.handleRequest(input, context);
        }
    }

    /** A method with a POJO (or no) input and/or a Context. */
    private static final class MethodCall implements Call {
        private final Method method;
        private final Object instance;
        private final boolean takesInput;
        private final boolean needsContext;
        private final int argc;

        MethodCall(Method method, Object instance, boolean takesInput, boolean needsContext) {
            this.method = method;
            this.instance = instance;
            this.takesInput = takesInput;
            this.needsContext = needsContext;
            this.argc = (takesInput ? 1 : 0) + (needsContext ? 1 : 0);
        }

        @Override
        public Object call(Object input, Context context) throws Throwable {
            Object[] args = new Object[argc];
            int i = 0;
            if (takesInput) {
                args[i++] = input;
            }
            if (needsContext) {
                args[i] = context;
            }
            try {
                return method.invoke(instance, args);
            } catch (InvocationTargetException e) {
                throw e.getCause() == null ? e : e.getCause();
            }
        }
    }

    // ------------------------------------------------------------------ POJO conversion

    /** The user call of a POJO handler. */
    interface Call {
        Object call(Object input, Context context) throws Throwable;
    }

    /** A handler whose input and output go through the JSON codec. */
    static final class PojoInvoker implements Invoker {
        private final Call call;
        private final Type inputType;   // null: the handler takes no input
        private final Type outputType;  // null: void

        PojoInvoker(Call call, Type inputType, Type outputType) {
            this.call = call;
            this.inputType = inputType;
            this.outputType = outputType;
        }

        @Override
        public void invoke(byte[] event, ByteArrayOutputStream out, Context context) throws Throwable {
            Object input = null;
            if (inputType != null) {
                try {
                    input = decode(event, inputType);
                } catch (Throwable t) {
                    throw new RuntimeException("An error occurred during JSON parsing", t);
                }
            }
            Object result = call.call(input, context);
            if (outputType == null) {
                out.write(JSON_NULL);
                return;
            }
            byte[] bytes;
            try {
                bytes = Json.write(result).getBytes(StandardCharsets.UTF_8);
            } catch (Throwable t) {
                throw new RuntimeException("An error occurred during JSON serialization of response", t);
            }
            out.write(bytes);
        }
    }

    static Object decode(byte[] event, Type type) {
        return Json.bind(Json.parse(event), type);
    }
}
