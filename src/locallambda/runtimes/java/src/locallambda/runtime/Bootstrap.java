package locallambda.runtime;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOError;
import java.io.IOException;
import java.io.PrintStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * locallambda's Java runtime client: the {@code bootstrap} of the java17 / java21 runtimes.
 *
 * <p>It loads the handler named by {@code _HANDLER} (or the first argument), then loops on the Lambda
 * Runtime API at {@code AWS_LAMBDA_RUNTIME_API} ({@code host:port}): {@code GET .../invocation/next},
 * run the handler, {@code POST .../invocation/{id}/response} or {@code .../error}. A handler that cannot
 * be loaded is reported with {@code POST .../init/error}, then the process exits with status 1.</p>
 *
 * <p>Class loading: the handler is loaded by the system class loader, so the launcher is expected to
 * put one flat class path together: this bootstrap's jar first (its
 * {@code com.amazonaws.services.lambda.runtime} API classes therefore win over a copy of
 * aws-lambda-java-core bundled by the function, and are the very same {@code Class} objects for the
 * runtime and the user code, as on AWS where the runtime's loader is the parent of the function's),
 * then {@code LAMBDA_TASK_ROOT}, its {@code lib/*.jar}, then layers' {@code /opt/java/lib/*.jar}. If
 * {@code LAMBDA_TASK_ROOT} is not on the class path, a child class loader over those locations is made
 * instead, as AWS's runtime does.</p>
 *
 * <p>Exit statuses: 1 after an init error, a lost Runtime API or a fatal error in the handler
 * (a {@link VirtualMachineError} such as {@link OutOfMemoryError}); 2 if the environment is unusable.</p>
 */
public final class Bootstrap {

    private Bootstrap() {
    }

    /** The system property the AWS X-Ray SDK reads the trace header from. */
    static final String TRACE_PROPERTY = "com.amazonaws.xray.traceHeader";
    /** Error type header of an error in the function code during an invocation. */
    static final String USER_EXCEPTION = "Runtime.UserException";
    /** Error type header of an error loading or initializing the function code. */
    static final String BAD_FUNCTION_CODE = "Runtime.BadFunctionCode";

    private static final String OWN_PACKAGE = "locallambda.runtime.";

    /** Entry point. {@code args[0]}, when given, overrides {@code _HANDLER}. */
    public static void main(String[] args) {
        PrintStream stdout = new PrintStream(
                new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 8192), true, StandardCharsets.UTF_8);
        PrintStream stderr = new PrintStream(
                new BufferedOutputStream(new FileOutputStream(FileDescriptor.err), 8192), true, StandardCharsets.UTF_8);
        System.setOut(stdout);
        System.setErr(stderr);
        // text printed without a newline is buffered until the invocation ends; keep it if the
        // function calls System.exit
        Runtime.getRuntime().addShutdownHook(new Thread(new Flusher(), "flush-stdout"));

        String api = System.getenv("AWS_LAMBDA_RUNTIME_API");
        if (api == null || api.isEmpty()) {
            System.err.println("locallambda bootstrap: AWS_LAMBDA_RUNTIME_API is not set");
            System.err.flush();
            System.exit(2);
        }
        String handler = args.length > 0 && !args[0].isEmpty() ? args[0] : System.getenv("_HANDLER");

        RuntimeApiClient client;
        try {
            client = new RuntimeApiClient(api);
        } catch (IllegalArgumentException e) {
            System.err.println("locallambda bootstrap: " + e.getMessage());
            System.err.flush();
            System.exit(2);
            return;
        }
        Env env = new Env();

        Handlers.Invoker invoker;
        try {
            ClassLoader loader = customerClassLoader(System.getenv("LAMBDA_TASK_ROOT"));
            Thread.currentThread().setContextClassLoader(loader);
            invoker = Handlers.load(handler, loader);
        } catch (Handlers.InitFault f) {
            reportInitError(client, f);
            return;
        } catch (Throwable t) {
            reportInitError(client, Handlers.InitFault.of(t));
            return;
        }
        runLoop(client, invoker, env, -1);
    }

    /** Flushes standard output and error (shutdown hook). */
    private static final class Flusher implements Runnable {
        @Override
        public void run() {
            System.out.flush();
            System.err.flush();
        }
    }

    private static void reportInitError(RuntimeApiClient client, Handlers.InitFault f) {
        System.out.print(f.reportable());
        System.out.flush();
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"errorMessage\":");
        Json.writeString(sb, f.msg);
        if (f.errorType != null) {
            sb.append(",\"errorType\":");
            Json.writeString(sb, f.errorType);
        }
        sb.append('}');
        try {
            client.postInitError(sb.toString().getBytes(StandardCharsets.UTF_8), BAD_FUNCTION_CODE);
        } catch (IOException e) {
            System.err.println("locallambda bootstrap: could not report the init error: " + e);
        }
        System.err.flush();
        System.exit(1);
    }

    /** A {@link ByteArrayOutputStream} whose buffer can be sent without a copy. */
    private static final class Buffer extends ByteArrayOutputStream {
        Buffer() {
            super(4096);
        }

        byte[] array() {
            return buf;
        }

        /** Drops a buffer that grew big for one large response, so it is not kept forever. */
        void recycle() {
            if (buf.length > (1 << 20)) {
                buf = new byte[4096];
            }
            reset();
        }
    }

    /** Serves invocations; returns after {@code limit} of them ({@code limit < 0}: never). */
    static void runLoop(RuntimeApiClient client, Handlers.Invoker invoker, Env env, int limit) {
        Buffer out = new Buffer();
        for (int served = 0; limit < 0 || served < limit; served++) {
            RuntimeApiClient.Response next;
            try {
                next = client.next();
            } catch (IOException e) {
                fatal("the Runtime API is unreachable (" + e + ")");
                return;
            }
            if (next.status != 200) {
                fatal("GET /runtime/invocation/next answered " + next.status + ": "
                        + new String(next.body, StandardCharsets.UTF_8));
                return;
            }
            String requestId = next.header("lambda-runtime-aws-request-id");
            if (requestId == null || requestId.isEmpty()) {
                fatal("GET /runtime/invocation/next answered without Lambda-Runtime-Aws-Request-Id");
                return;
            }
            String trace = next.header("lambda-runtime-trace-id");
            if (trace != null) {
                System.setProperty(TRACE_PROPERTY, trace);
            } else {
                System.clearProperty(TRACE_PROPERTY);
            }
            Invocation ctx = new Invocation(env, requestId, parseLong(next.header("lambda-runtime-deadline-ms")),
                    next.header("lambda-runtime-invoked-function-arn"), trace,
                    next.header("lambda-runtime-client-context"), next.header("lambda-runtime-cognito-identity"));

            out.recycle();
            Throwable failure = null;
            try {
                invoker.invoke(next.body, out, ctx);
            } catch (Throwable t) {
                failure = t;
            }
            Thread.interrupted(); // clear an interrupt left by the function
            boolean exit = false;
            try {
                if (failure == null) {
                    System.out.flush();
                    System.err.flush();
                    check(client.postResponse(requestId, out.array(), out.size()), "response");
                } else {
                    exit = failure instanceof VirtualMachineError || failure instanceof IOError;
                    filterStackTrace(failure);
                    logError(failure);
                    System.out.flush();
                    System.err.flush();
                    byte[] body = errorJson(failure).getBytes(StandardCharsets.UTF_8);
                    check(client.postError(requestId, body, USER_EXCEPTION), "error");
                }
            } catch (IOException e) {
                fatal("could not post the result of " + requestId + " (" + e + ")");
                return;
            } catch (OutOfMemoryError e) {
                fatal("out of memory while reporting the result of " + requestId);
                return;
            }
            if (exit) {
                System.out.flush();
                System.err.flush();
                System.exit(1);
            }
        }
    }

    private static void check(RuntimeApiClient.Response r, String what) {
        if (r.status / 100 != 2) {
            System.err.println("locallambda bootstrap: the Runtime API refused the " + what + " (" + r.status + "): "
                    + new String(r.body, StandardCharsets.UTF_8));
        }
    }

    private static void fatal(String msg) {
        System.out.flush();
        System.err.println("locallambda bootstrap: " + msg);
        System.err.flush();
        System.exit(1);
    }

    private static long parseLong(String s) {
        if (s == null) {
            return 0L;
        }
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            return 0L;
        }
    }

    // ------------------------------------------------------------------ errors

    /** Logs an invocation error as AWS does: {@code "message: type\n<stack trace>\n"}. */
    private static void logError(Throwable t) {
        String msg = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
        java.io.StringWriter sw = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(sw));
        System.out.print(msg + ": " + t.getClass().getName() + "\n" + sw + "\n");
    }

    /**
     * The error document of a failed invocation:
     * {@code {"errorMessage", "errorType", "stackTrace": [...], "cause": {...}}}, the cause chain
     * nested the same way (at most 10 deep).
     */
    static String errorJson(Throwable t) {
        StringBuilder sb = new StringBuilder(512);
        appendError(sb, t, 0, Collections.newSetFromMap(new IdentityHashMap<>()));
        return sb.toString();
    }

    private static void appendError(StringBuilder sb, Throwable t, int depth, Set<Throwable> seen) {
        seen.add(t);
        String msg = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
        sb.append("{\"errorMessage\":");
        Json.writeString(sb, msg);
        sb.append(",\"errorType\":");
        Json.writeString(sb, t.getClass().getName());
        sb.append(",\"stackTrace\":[");
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < st.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            Json.writeString(sb, st[i].toString());
        }
        sb.append(']');
        Throwable cause = t.getCause();
        if (cause != null && depth < 10 && !seen.contains(cause)) {
            sb.append(",\"cause\":");
            appendError(sb, cause, depth + 1, seen);
        }
        sb.append('}');
    }

    /** Removes this runtime's frames (and everything below them) from {@code t}, its causes and suppressed. */
    static <T extends Throwable> T filterStackTrace(T t) {
        filter(t, Collections.newSetFromMap(new IdentityHashMap<>()));
        return t;
    }

    private static void filter(Throwable t, Set<Throwable> seen) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < st.length; i++) {
            if (st[i].getClassName().startsWith(OWN_PACKAGE)) {
                t.setStackTrace(Arrays.copyOf(st, i));
                break;
            }
        }
        filter(t.getCause(), seen);
        for (Throwable s : t.getSuppressed()) {
            filter(s, seen);
        }
    }

    // ------------------------------------------------------------------ class loading

    /**
     * The loader for the function's classes: the system class loader when {@code taskRoot} is on the class
     * path (the normal launch), else a child of it over {@code taskRoot}, {@code taskRoot/lib/*.jar} and
     * {@code /opt/java/lib/*.jar} (jars in name order), like AWS's runtime.
     */
    static ClassLoader customerClassLoader(String taskRoot) throws MalformedURLException {
        ClassLoader system = ClassLoader.getSystemClassLoader();
        if (taskRoot == null || taskRoot.isEmpty()) {
            return system;
        }
        Path root = normalize(taskRoot);
        String cp = System.getProperty("java.class.path", "");
        for (String entry : cp.split(File.pathSeparator)) {
            if (!entry.isEmpty() && root.equals(normalize(entry))) {
                return system;
            }
        }
        List<URL> urls = new ArrayList<>();
        urls.add(root.toUri().toURL());
        addJars(root.resolve("lib").toFile(), urls);
        addJars(new File("/opt/java/lib"), urls);
        // unnamed, like AWS's: a named loader would prefix stack frames with "name//"
        return new URLClassLoader(urls.toArray(new URL[0]), system);
    }

    private static Path normalize(String p) {
        try {
            return Paths.get(p).toAbsolutePath().normalize();
        } catch (RuntimeException e) {
            return Paths.get("/nonexistent");
        }
    }

    private static void addJars(File dir, List<URL> urls) throws MalformedURLException {
        String[] names = dir.list();
        if (names == null) {
            return;
        }
        Arrays.sort(names);
        for (String n : names) {
            if (n.length() > 4 && n.endsWith(".jar")) {
                urls.add(new File(dir, n).toURI().toURL());
            }
        }
    }

    // ------------------------------------------------------------------ context

    /** The function's environment, read once. */
    static final class Env {
        final String functionName = System.getenv("AWS_LAMBDA_FUNCTION_NAME");
        final String functionVersion = System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
        final String logGroupName = System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
        final String logStreamName = System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
        final int memoryLimitMb = parseMemory(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));

        private static int parseMemory(String s) {
            if (s == null || s.isEmpty()) {
                return 128;
            }
            try {
                return Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                return 128;
            }
        }
    }

    /** The {@link Context} of one invocation. */
    static final class Invocation implements Context {
        private final Env env;
        private final String requestId;
        private final long deadlineMs;
        private final String invokedFunctionArn;
        private final String traceId;
        private final String clientContextJson;
        private final String cognitoJson;
        private ClientContext clientContext;
        private CognitoIdentity identity;
        private boolean parsed;

        Invocation(Env env, String requestId, long deadlineMs, String invokedFunctionArn, String traceId,
                   String clientContextJson, String cognitoJson) {
            this.env = env;
            this.requestId = requestId;
            this.deadlineMs = deadlineMs;
            this.invokedFunctionArn = invokedFunctionArn;
            this.traceId = traceId;
            this.clientContextJson = clientContextJson;
            this.cognitoJson = cognitoJson;
        }

        @Override
        public String getAwsRequestId() {
            return requestId;
        }

        @Override
        public String getLogGroupName() {
            return env.logGroupName;
        }

        @Override
        public String getLogStreamName() {
            return env.logStreamName;
        }

        @Override
        public String getFunctionName() {
            return env.functionName;
        }

        @Override
        public String getFunctionVersion() {
            return env.functionVersion;
        }

        @Override
        public String getInvokedFunctionArn() {
            return invokedFunctionArn;
        }

        @Override
        public CognitoIdentity getIdentity() {
            parseHeaders();
            return identity;
        }

        @Override
        public ClientContext getClientContext() {
            parseHeaders();
            return clientContext;
        }

        @Override
        public int getRemainingTimeInMillis() {
            long left = deadlineMs - System.currentTimeMillis();
            return left > 0 ? (int) Math.min(left, Integer.MAX_VALUE) : 0;
        }

        @Override
        public int getMemoryLimitInMB() {
            return env.memoryLimitMb;
        }

        @Override
        public LambdaLogger getLogger() {
            return LambdaRuntime.getLogger();
        }

        @Override
        public String getXrayTraceId() {
            return traceId;
        }

        @Override
        public String toString() {
            return "Context{requestId=" + requestId + ", function=" + env.functionName + ":" + env.functionVersion + "}";
        }

        /** The client context and Cognito headers are JSON, parsed on first use. */
        private void parseHeaders() {
            if (parsed) {
                return;
            }
            parsed = true;
            if (clientContextJson != null && !clientContextJson.isEmpty()) {
                Object tree = parseQuietly("Lambda-Runtime-Client-Context", clientContextJson);
                if (tree instanceof Map) {
                    clientContext = new CC((Map<?, ?>) tree);
                }
            }
            if (cognitoJson != null && !cognitoJson.isEmpty()) {
                Object tree = parseQuietly("Lambda-Runtime-Cognito-Identity", cognitoJson);
                if (tree instanceof Map) {
                    Map<?, ?> m = (Map<?, ?>) tree;
                    identity = new Cognito(str(first(m, "cognitoIdentityId", "identityId", "identity_id")),
                            str(first(m, "cognitoIdentityPoolId", "identityPoolId", "identity_pool_id")));
                }
            }
        }
    }

    private static Object parseQuietly(String header, String json) {
        try {
            return Json.parse(json);
        } catch (RuntimeException e) {
            System.err.println("locallambda bootstrap: ignoring malformed " + header + " header: " + e.getMessage());
            return null;
        }
    }

    private static Object first(Map<?, ?> m, String... keys) {
        for (String k : keys) {
            Object v = m.get(k);
            if (v != null) {
                return v;
            }
        }
        return null;
    }

    private static String str(Object o) {
        if (o == null) {
            return null;
        }
        return o instanceof String ? (String) o : Json.write(o);
    }

    private static Map<String, String> strMap(Object o) {
        if (!(o instanceof Map)) {
            return null;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
            out.put(String.valueOf(e.getKey()), str(e.getValue()));
        }
        return out;
    }

    private static final class CC implements ClientContext {
        private final Client client;
        private final Map<String, String> custom;
        private final Map<String, String> environment;

        CC(Map<?, ?> m) {
            Object c = m.get("client");
            this.client = c instanceof Map ? new ClientImpl((Map<?, ?>) c) : null;
            this.custom = strMap(m.get("custom"));
            Map<String, String> env = strMap(first(m, "env", "environment"));
            this.environment = env == null ? null : Collections.unmodifiableMap(env);
        }

        @Override
        public Client getClient() {
            return client;
        }

        @Override
        public Map<String, String> getCustom() {
            return custom;
        }

        @Override
        public Map<String, String> getEnvironment() {
            return environment;
        }
    }

    private static final class ClientImpl implements Client {
        private final String installationId;
        private final String appTitle;
        private final String appVersionName;
        private final String appVersionCode;
        private final String appPackageName;

        ClientImpl(Map<?, ?> m) {
            installationId = str(first(m, "installation_id", "installationId"));
            appTitle = str(first(m, "app_title", "appTitle"));
            appVersionName = str(first(m, "app_version_name", "appVersionName"));
            appVersionCode = str(first(m, "app_version_code", "appVersionCode"));
            appPackageName = str(first(m, "app_package_name", "appPackageName"));
        }

        @Override
        public String getInstallationId() {
            return installationId;
        }

        @Override
        public String getAppTitle() {
            return appTitle;
        }

        @Override
        public String getAppVersionName() {
            return appVersionName;
        }

        @Override
        public String getAppVersionCode() {
            return appVersionCode;
        }

        @Override
        public String getAppPackageName() {
            return appPackageName;
        }
    }

    private static final class Cognito implements CognitoIdentity {
        private final String identityId;
        private final String identityPoolId;

        Cognito(String identityId, String identityPoolId) {
            this.identityId = identityId;
            this.identityPoolId = identityPoolId;
        }

        @Override
        public String getIdentityId() {
            return identityId;
        }

        @Override
        public String getIdentityPoolId() {
            return identityPoolId;
        }
    }
}
