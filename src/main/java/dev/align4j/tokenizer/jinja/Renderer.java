package dev.align4j.tokenizer.jinja;

import dev.align4j.tokenizer.jinja.Values.Cycler;
import dev.align4j.tokenizer.jinja.Values.Fn;
import dev.align4j.tokenizer.jinja.Values.Loop;
import dev.align4j.tokenizer.jinja.Values.Namespace;
import dev.align4j.tokenizer.jinja.Values.Undefined;
import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Evaluates a parsed template over plain values (see {@link Values}), sandboxed as Jinja's
 * {@code ImmutableSandboxedEnvironment}: attributes starting with an underscore are refused, lists and dicts cannot be
 * mutated ({@code append}, {@code update}, ... are refused), only the methods listed here exist, and every step,
 * string and call depth is bounded by {@link Limits}.
 */
final class Renderer {
    private final Limits limits;
    private long steps;
    private int callDepth;
    private final IdentityHashMap<Object, Integer> tracked;
    private StringBuilder root;
    final List<int[]> generationSpans = new ArrayList<>();
    final Map<Integer, List<int[]>> itemSpans = new HashMap<>();

    private static final class Scope {
        final Map<String, Object> vars = new HashMap<>();
        final Scope parent;

        Scope(Scope parent) {
            this.parent = parent;
        }

        Object lookup(String name) {
            for (Scope s = this; s != null; s = s.parent) {
                Object v = s.vars.get(name);
                if (v != null || s.vars.containsKey(name)) return v;
            }
            return new Undefined(name);
        }
    }

    private static final class BreakSignal extends RuntimeException {
        BreakSignal() { super(null, null, false, false); }
    }

    private static final class ContinueSignal extends RuntimeException {
        ContinueSignal() { super(null, null, false, false); }
    }

    /** The template's own raise_exception(...). */
    static final class Raised extends TemplateException {
        Raised(int line, String msg) { super(line, "raise_exception: " + msg); }
    }

    Renderer(Limits limits, IdentityHashMap<Object, Integer> tracked) {
        this.limits = limits;
        this.tracked = tracked;
    }

    String render(List<Node> nodes, Map<String, Object> context) {
        Scope globals = new Scope(null);
        installGlobals(globals.vars);
        Scope top = new Scope(globals);
        top.vars.putAll(context);
        root = new StringBuilder();
        try {
            exec(nodes, top, root);
        } catch (BreakSignal | ContinueSignal e) {
            throw new TemplateException(1, "'break' or 'continue' outside a loop");
        } catch (StackOverflowError e) {
            throw new TemplateException(1, "the template recursed too deeply");
        }
        return root.toString();
    }

    private void step(int line) {
        if (++steps > limits.maxSteps())
            throw new TemplateException(line, "the template ran more than " + limits.maxSteps()
                    + " steps (the sandbox's limit: a loop or recursion too long?)");
    }

    private void append(StringBuilder out, String s, int line) {
        limits.checkLength((long) out.length() + s.length(), line);
        out.append(s);
    }

    // ---- statements -------------------------------------------------------------------------------------

    private void exec(List<Node> nodes, Scope scope, StringBuilder out) {
        for (Node n : nodes) exec(n, scope, out);
    }

    private void exec(Node n, Scope scope, StringBuilder out) {
        step(n.line);
        if (n instanceof Node.Text t) append(out, t.text, t.line);
        else if (n instanceof Node.Output o) append(out, Values.str(eval(o.expr, scope)), o.line);
        else if (n instanceof Node.If f) {
            for (int i = 0; i < f.conditions.size(); i++) {
                if (Values.truthy(eval(f.conditions.get(i), scope))) {
                    exec(f.bodies.get(i), scope, out);
                    return;
                }
            }
            if (f.bodies.size() > f.conditions.size()) exec(f.bodies.get(f.conditions.size()), scope, out);
        } else if (n instanceof Node.For f) forLoop(f, scope, out);
        else if (n instanceof Node.Set s) set(s, scope);
        else if (n instanceof Node.Macro m) scope.vars.put(m.name, macro(m, scope));
        else if (n instanceof Node.Generation g) {
            int start = out.length();
            exec(g.body, scope, out);
            if (out == root) generationSpans.add(new int[] {start, out.length()});
        } else if (n instanceof Node.FilterBlock fb) {
            StringBuilder inner = new StringBuilder();
            exec(fb.body, scope, inner);
            append(out, Values.str(filter(fb.filter, inner.toString(), scope)), fb.line);
        } else if (n instanceof Node.Break) throw new BreakSignal();
        else if (n instanceof Node.Continue) throw new ContinueSignal();
        else if (n instanceof Node.Do d) eval(d.expr, scope);
        else throw new TemplateException(n.line, "not a statement");
    }

    private List<Object> iterate(Object v, int line) {
        if (v instanceof List<?> l) return new ArrayList<>(l);
        if (v instanceof Map<?, ?> m) return new ArrayList<>(m.keySet());
        if (v instanceof String s) return chars(s);
        if (v instanceof Undefined) return new ArrayList<>();
        throw new TemplateException(line, "'" + Values.typeName(v) + "' object is not iterable");
    }

    private static List<Object> chars(String s) {
        List<Object> out = new ArrayList<>();
        s.codePoints().forEach(cp -> out.add(new String(Character.toChars(cp))));
        return out;
    }

    private void forLoop(Node.For f, Scope scope, StringBuilder out) {
        if (f.recursive) throw new TemplateException(f.line, "recursive for loops are not supported");
        List<Object> items = iterate(eval(f.iterable, scope), f.line);
        Scope inner = new Scope(scope);
        if (f.filter != null) {
            List<Object> kept = new ArrayList<>();
            for (Object item : items) {
                step(f.line);
                bind(f.targets, item, inner, f.line);
                if (Values.truthy(eval(f.filter, inner))) kept.add(item);
            }
            items = kept;
        }
        if (items.isEmpty()) {
            exec(f.elseBody, scope, out);
            return;
        }
        Loop loop = new Loop();
        loop.length = items.size();
        Object outerLoop = scope.lookup("loop");
        for (int i = 0; i < items.size(); i++) {
            step(f.line);
            Object item = items.get(i);
            loop.index0 = i;
            loop.hasPrev = i > 0;
            loop.prev = i > 0 ? items.get(i - 1) : null;
            loop.hasNext = i + 1 < items.size();
            loop.next = loop.hasNext ? items.get(i + 1) : null;
            bind(f.targets, item, inner, f.line);
            inner.vars.put("loop", loop);
            Integer trackedIndex = tracked == null || out != root ? null : tracked.get(item);
            int start = out.length();
            try {
                exec(f.body, inner, out);
            } catch (ContinueSignal c) {
                // next item
            } catch (BreakSignal b) {
                record(trackedIndex, start, out.length());
                break;
            }
            record(trackedIndex, start, out.length());
        }
        if (!(outerLoop instanceof Undefined)) inner.vars.put("loop", outerLoop);
    }

    private void record(Integer index, int start, int end) {
        if (index == null || end <= start) return;
        itemSpans.computeIfAbsent(index, k -> new ArrayList<>()).add(new int[] {start, end});
    }

    private void bind(List<String> targets, Object item, Scope scope, int line) {
        if (targets.size() == 1) {
            scope.vars.put(targets.get(0), item);
            return;
        }
        List<Object> parts = iterate(item, line);
        if (parts.size() != targets.size())
            throw new TemplateException(line, "cannot unpack " + parts.size() + " values into " + targets.size() + " names");
        for (int i = 0; i < targets.size(); i++) scope.vars.put(targets.get(i), parts.get(i));
    }

    private void set(Node.Set s, Scope scope) {
        Object v;
        if (s.value != null) v = eval(s.value, scope);
        else {
            StringBuilder inner = new StringBuilder();
            exec(s.body, scope, inner);
            v = inner.toString();
        }
        if (s.attribute != null) {
            Object ns = scope.lookup(s.targets.get(0));
            if (!(ns instanceof Namespace namespace))
                throw new TemplateException(s.line, "cannot assign attribute on non-namespace object '" + s.targets.get(0) + "'");
            if (s.attribute.startsWith("_"))
                throw new TemplateException(s.line, "access to attribute '" + s.attribute + "' of 'Namespace' object is unsafe");
            namespace.attrs.put(s.attribute, v);
            return;
        }
        bind(s.targets, v, scope, s.line);
    }

    private Fn macro(Node.Macro m, Scope defining) {
        return (args, kwargs, line) -> {
            if (args.size() > m.params.size())
                throw new TemplateException(line, "macro '" + m.name + "' takes " + m.params.size() + " arguments, got " + args.size());
            if (++callDepth > limits.maxCallDepth())
                throw new TemplateException(line, "macro calls nested deeper than " + limits.maxCallDepth() + " (the sandbox's limit)");
            try {
                Scope s = new Scope(defining);
                for (int i = 0; i < m.params.size(); i++) {
                    String p = m.params.get(i);
                    Object v;
                    if (i < args.size()) v = args.get(i);
                    else if (kwargs.containsKey(p)) v = kwargs.get(p);
                    else if (m.defaults.get(i) != null) v = eval(m.defaults.get(i), s);
                    else v = new Undefined(p);
                    s.vars.put(p, v);
                }
                for (String k : kwargs.keySet())
                    if (!m.params.contains(k)) throw new TemplateException(line, "macro '" + m.name + "' has no parameter '" + k + "'");
                StringBuilder out = new StringBuilder();
                exec(m.body, s, out);
                return out.toString();
            } finally {
                callDepth--;
            }
        };
    }

    // ---- expressions ------------------------------------------------------------------------------------

    private Object eval(Node n, Scope scope) {
        step(n.line);
        if (n instanceof Node.Literal l) return l.value;
        if (n instanceof Node.Name nm) return scope.lookup(nm.name);
        if (n instanceof Node.ListExpr l) {
            List<Object> out = new ArrayList<>(l.items.size());
            for (Node i : l.items) out.add(eval(i, scope));
            return out;
        }
        if (n instanceof Node.DictExpr d) {
            Map<Object, Object> out = new LinkedHashMap<>();
            for (int i = 0; i < d.keys.size(); i++) out.put(eval(d.keys.get(i), scope), eval(d.values.get(i), scope));
            return out;
        }
        if (n instanceof Node.Attr a) return getattr(eval(a.target, scope), a.name, a.line, describe(a.target));
        if (n instanceof Node.Index ix) return getitem(eval(ix.target, scope), eval(ix.index, scope), ix.line, describe(ix.target));
        if (n instanceof Node.Slice sl) return slice(eval(sl.target, scope), sl, scope);
        if (n instanceof Node.Filter f) return filter(f.call, eval(f.call.target, scope), scope);
        if (n instanceof Node.Test t) return test(t.call, scope);
        if (n instanceof Node.Call c) {
            Object callee = eval(c.callee, scope);
            if (callee instanceof Undefined u) throw undefined(u, c.line);
            if (!(callee instanceof Fn fn)) throw new TemplateException(c.line, "'" + Values.typeName(callee) + "' object is not callable");
            List<Object> args = new ArrayList<>();
            for (Node a : c.args) args.add(eval(a, scope));
            Map<String, Object> kw = new LinkedHashMap<>();
            for (int i = 0; i < c.kwNames.size(); i++) kw.put(c.kwNames.get(i), eval(c.kwValues.get(i), scope));
            return fn.call(args, kw, c.line);
        }
        if (n instanceof Node.Unary u) {
            Object v = eval(u.operand, scope);
            switch (u.op) {
                case "not": return !Values.truthy(v);
                case "-":
                    if (v instanceof Long l) return Math.negateExact(l);
                    if (v instanceof Double d) return -d;
                    if (v instanceof Boolean b) return b ? -1L : 0L;
                    throw typeError(u.line, "bad operand type for unary -: '" + Values.typeName(v) + "'", v);
                default:
                    if (Values.isNumber(v)) return v instanceof Boolean b ? (b ? 1L : 0L) : v;
                    throw typeError(u.line, "bad operand type for unary +: '" + Values.typeName(v) + "'", v);
            }
        }
        if (n instanceof Node.Binary b) {
            if (b.op.equals("and")) {
                Object l = eval(b.left, scope);
                return Values.truthy(l) ? eval(b.right, scope) : l;
            }
            if (b.op.equals("or")) {
                Object l = eval(b.left, scope);
                return Values.truthy(l) ? l : eval(b.right, scope);
            }
            return binary(b.op, eval(b.left, scope), eval(b.right, scope), b.line);
        }
        if (n instanceof Node.Compare c) {
            Object left = eval(c.first, scope);
            for (int i = 0; i < c.ops.size(); i++) {
                Object right = eval(c.rest.get(i), scope);
                if (!compare(c.ops.get(i), left, right, c.line)) return false;
                left = right;
            }
            return true;
        }
        if (n instanceof Node.CondExpr ce) {
            if (Values.truthy(eval(ce.cond, scope))) return eval(ce.then, scope);
            return ce.otherwise == null ? new Undefined("conditional expression") : eval(ce.otherwise, scope);
        }
        throw new TemplateException(n.line, "not an expression");
    }

    /** A name for an expression, for messages about undefined values. */
    private static String describe(Node n) {
        if (n instanceof Node.Name nm) return nm.name;
        if (n instanceof Node.Attr a) return describe(a.target) + "." + a.name;
        if (n instanceof Node.Index i) return describe(i.target) + "[...]";
        return "value";
    }

    private static TemplateException undefined(Undefined u, int line) {
        return new TemplateException(line, "'" + u.name + "' is undefined");
    }

    private static TemplateException typeError(int line, String msg, Object... operands) {
        for (Object o : operands) if (o instanceof Undefined u) return undefined(u, line);
        return new TemplateException(line, msg);
    }

    private TemplateException unsafe(int line, String name, Object obj) {
        return new TemplateException(line, "access to attribute '" + name + "' of '" + Values.typeName(obj)
                + "' object is unsafe (the template sandbox refuses it)");
    }

    private Object binary(String op, Object a, Object b, int line) {
        switch (op) {
            case "~": {
                String sa = Values.str(a), sb = Values.str(b);
                limits.checkLength((long) sa.length() + sb.length(), line);
                return sa + sb;
            }
            case "+":
                if (a instanceof String x && b instanceof String y) {
                    limits.checkLength((long) x.length() + y.length(), line);
                    return x + y;
                }
                if (a instanceof List<?> x && b instanceof List<?> y) {
                    limits.checkLength((long) x.size() + y.size(), line);
                    List<Object> out = new ArrayList<>(x);
                    out.addAll(y);
                    return out;
                }
                break;
            case "*":
                if (a instanceof String || a instanceof List) return repeat(a, b, line);
                if (b instanceof String || b instanceof List) return repeat(b, a, line);
                break;
            case "%":
                if (a instanceof String)
                    throw new TemplateException(line, "printf-style string formatting ('...' % x) is not supported");
                break;
            default:
                break;
        }
        if (!Values.isNumber(a) || !Values.isNumber(b))
            throw typeError(line, "unsupported operand type(s) for " + op + ": '" + Values.typeName(a) + "' and '"
                    + Values.typeName(b) + "'", a, b);
        boolean ints = Values.isInt(a) && Values.isInt(b);
        try {
            switch (op) {
                case "+": return ints ? (Object) Math.addExact(Values.asLong(a), Values.asLong(b)) : Values.asDouble(a) + Values.asDouble(b);
                case "-": return ints ? (Object) Math.subtractExact(Values.asLong(a), Values.asLong(b)) : Values.asDouble(a) - Values.asDouble(b);
                case "*": return ints ? (Object) Math.multiplyExact(Values.asLong(a), Values.asLong(b)) : Values.asDouble(a) * Values.asDouble(b);
                case "/": {
                    double d = Values.asDouble(b);
                    if (d == 0) throw new TemplateException(line, "division by zero");
                    return Values.asDouble(a) / d;
                }
                case "//": {
                    if (Values.asDouble(b) == 0) throw new TemplateException(line, "integer division or modulo by zero");
                    if (ints) return Math.floorDiv(Values.asLong(a), Values.asLong(b));
                    return Math.floor(Values.asDouble(a) / Values.asDouble(b));
                }
                case "%": {
                    if (Values.asDouble(b) == 0) throw new TemplateException(line, "integer division or modulo by zero");
                    if (ints) return Math.floorMod(Values.asLong(a), Values.asLong(b));
                    double x = Values.asDouble(a), y = Values.asDouble(b);
                    return x - y * Math.floor(x / y);
                }
                case "**": {
                    if (ints && Values.asLong(b) >= 0) {
                        long base = Values.asLong(a), e = Values.asLong(b), r = 1;
                        for (long i = 0; i < e; i++) {
                            r = Math.multiplyExact(r, base);
                            if (base == 0 || base == 1) break;
                            if (base == -1) { r = (e % 2 == 0) ? 1 : -1; break; }
                        }
                        return r;
                    }
                    return Math.pow(Values.asDouble(a), Values.asDouble(b));
                }
                default: throw new TemplateException(line, "unknown operator " + op);
            }
        } catch (ArithmeticException e) {
            throw new TemplateException(line, "integer overflow in '" + op + "' (numbers beyond 64 bits are not supported)");
        }
    }

    private Object repeat(Object seq, Object times, int line) {
        if (!Values.isInt(times))
            throw typeError(line, "can't multiply sequence by non-int of type '" + Values.typeName(times) + "'", times);
        long n = Math.max(0, Values.asLong(times));
        if (seq instanceof String s) {
            limits.checkLength(s.length() * Math.min(n, Integer.MAX_VALUE), line);
            return s.repeat((int) n);
        }
        List<?> l = (List<?>) seq;
        limits.checkLength(l.size() * Math.min(n, Integer.MAX_VALUE), line);
        List<Object> out = new ArrayList<>();
        for (long i = 0; i < n; i++) out.addAll(l);
        return out;
    }

    private boolean compare(String op, Object a, Object b, int line) {
        switch (op) {
            case "==": return Values.eq(a, b);
            case "!=": return !Values.eq(a, b);
            case "in": return contains(b, a, line);
            case "not in": return !contains(b, a, line);
            default:
                Integer c = Values.compare(a, b);
                if (c == null)
                    throw typeError(line, "'" + op + "' not supported between instances of '" + Values.typeName(a) + "' and '"
                            + Values.typeName(b) + "'", a, b);
                return switch (op) {
                    case "<" -> c < 0;
                    case ">" -> c > 0;
                    case "<=" -> c <= 0;
                    default -> c >= 0;
                };
        }
    }

    private boolean contains(Object container, Object item, int line) {
        if (container instanceof String s) {
            if (!(item instanceof String x))
                throw typeError(line, "'in <string>' requires string as left operand, not " + Values.typeName(item), item);
            return s.contains(x);
        }
        if (container instanceof List<?> l) {
            for (Object o : l) if (Values.eq(o, item)) return true;
            return false;
        }
        if (container instanceof Map<?, ?> m) {
            for (Object k : m.keySet()) if (Values.eq(k, item)) return true;
            return false;
        }
        if (container instanceof Undefined u) throw undefined(u, line);
        throw new TemplateException(line, "argument of type '" + Values.typeName(container) + "' is not iterable");
    }

    // ---- attributes, items, slices ----------------------------------------------------------------------

    private Object getattr(Object obj, String name, int line, String what) {
        if (name.startsWith("_")) throw unsafe(line, name, obj);
        if (obj instanceof Undefined u) throw undefined(u, line);
        if (obj instanceof Map<?, ?> m) {
            switch (name) {
                case "get", "items", "keys", "values": return method(obj, name);
                case "pop", "popitem", "setdefault", "update", "clear", "copy", "fromkeys": throw unsafe(line, name, obj);
                default:
                    if (m.containsKey(name)) return m.get(name);
                    return new Undefined(what + "." + name);
            }
        }
        if (obj instanceof String) {
            if (STR_METHODS.contains(name)) return method(obj, name);
            if (name.equals("format") || name.equals("format_map")) throw unsafe(line, name, obj);
            return new Undefined(what + "." + name);
        }
        if (obj instanceof List) {
            if (name.equals("index") || name.equals("count")) return method(obj, name);
            if (List.of("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "copy").contains(name))
                throw unsafe(line, name, obj);
            return new Undefined(what + "." + name);
        }
        if (obj instanceof Namespace ns) {
            return ns.attrs.containsKey(name) ? ns.attrs.get(name) : new Undefined(what + "." + name);
        }
        if (obj instanceof Loop l) return loopAttr(l, name, line, what);
        if (obj instanceof Cycler c) {
            switch (name) {
                case "current": return c.items.isEmpty() ? null : c.items.get(c.pos);
                case "next": return (Fn) (a, k, ln) -> {
                    Object v = c.items.get(c.pos);
                    c.pos = (c.pos + 1) % c.items.size();
                    return v;
                };
                case "reset": return (Fn) (a, k, ln) -> { c.pos = 0; return null; };
                default: return new Undefined(what + "." + name);
            }
        }
        return new Undefined(what + "." + name);
    }

    private Object loopAttr(Loop l, String name, int line, String what) {
        switch (name) {
            case "index": return (long) l.index0 + 1;
            case "index0": return (long) l.index0;
            case "revindex": return (long) (l.length - l.index0);
            case "revindex0": return (long) (l.length - l.index0 - 1);
            case "first": return l.index0 == 0;
            case "last": return l.index0 == l.length - 1;
            case "length": return (long) l.length;
            case "depth": return 1L;
            case "depth0": return 0L;
            case "previtem": return l.hasPrev ? l.prev : new Undefined("loop.previtem");
            case "nextitem": return l.hasNext ? l.next : new Undefined("loop.nextitem");
            case "cycle": return (Fn) (a, k, ln) -> {
                if (a.isEmpty()) throw new TemplateException(ln, "loop.cycle() needs at least one argument");
                return a.get(l.index0 % a.size());
            };
            case "changed": return (Fn) (a, k, ln) -> {
                if (Values.eq(a, l.lastChanged)) return false;
                l.lastChanged = new ArrayList<>(a);
                return true;
            };
            default: return new Undefined(what + "." + name);
        }
    }

    private Object getitem(Object obj, Object key, int line, String what) {
        if (obj instanceof Undefined u) throw undefined(u, line);
        if ((obj instanceof List || obj instanceof String) && Values.isInt(key)) {
            long i = Values.asLong(key);
            if (obj instanceof List<?> l) {
                if (i < 0) i += l.size();
                return i >= 0 && i < l.size() ? l.get((int) i) : new Undefined(what + "[" + key + "]");
            }
            String s = (String) obj;
            int n = s.codePointCount(0, s.length());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return new Undefined(what + "[" + key + "]");
            int at = s.offsetByCodePoints(0, (int) i);
            return new String(Character.toChars(s.codePointAt(at)));
        }
        if (obj instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) if (Values.eq(e.getKey(), key)) return e.getValue();
        }
        if (key instanceof String name) return getattr(obj, name, line, what);
        return new Undefined(what + "[" + Values.repr(key) + "]");
    }

    private Object slice(Object obj, Node.Slice sl, Scope scope) {
        Object start = sl.start == null ? null : eval(sl.start, scope);
        Object stop = sl.stop == null ? null : eval(sl.stop, scope);
        Object stepV = sl.step == null ? null : eval(sl.step, scope);
        if (obj instanceof Undefined u) throw undefined(u, sl.line);
        List<Object> items;
        boolean str = obj instanceof String;
        if (str) items = chars((String) obj);
        else if (obj instanceof List<?> l) items = new ArrayList<>(l);
        else throw new TemplateException(sl.line, "'" + Values.typeName(obj) + "' object is not subscriptable");
        int n = items.size();
        long step = stepV == null ? 1 : sliceInt(stepV, sl.line);
        if (step == 0) throw new TemplateException(sl.line, "slice step cannot be zero");
        long lo, hi;
        if (step > 0) {
            lo = start == null ? 0 : clampIndex(sliceInt(start, sl.line), n, 0, n);
            hi = stop == null ? n : clampIndex(sliceInt(stop, sl.line), n, 0, n);
        } else {
            lo = start == null ? n - 1 : clampIndex(sliceInt(start, sl.line), n, -1, n - 1);
            hi = stop == null ? -1 : clampIndex(sliceInt(stop, sl.line), n, -1, n - 1);
        }
        List<Object> out = new ArrayList<>();
        if (step > 0) for (long i = lo; i < hi; i += step) out.add(items.get((int) i));
        else for (long i = lo; i > hi; i += step) out.add(items.get((int) i));
        if (!str) return out;
        StringBuilder sb = new StringBuilder();
        for (Object o : out) sb.append((String) o);
        return sb.toString();
    }

    private static long sliceInt(Object v, int line) {
        if (v == null) return 0;
        if (!Values.isInt(v)) throw new TemplateException(line, "slice indices must be integers or None");
        return Values.asLong(v);
    }

    private static long clampIndex(long i, int n, long lo, long hi) {
        if (i < 0) i += n;
        return Math.max(lo, Math.min(hi, i));
    }

    // ---- methods of str, dict and list ------------------------------------------------------------------

    private static final java.util.Set<String> STR_METHODS = java.util.Set.of("startswith", "endswith", "split", "rsplit",
            "strip", "lstrip", "rstrip", "replace", "upper", "lower", "title", "capitalize", "find", "rfind", "count", "join",
            "isdigit", "isalpha", "isspace", "isalnum", "isupper", "islower", "splitlines", "index", "casefold", "swapcase",
            "removeprefix", "removesuffix", "zfill", "center", "ljust", "rjust", "isnumeric", "isdecimal");

    private Fn method(Object self, String name) {
        return (args, kw, line) -> callMethod(self, name, args, kw, line);
    }

    private Object arg(List<Object> args, Map<String, Object> kw, int i, String name, Object dflt) {
        if (i < args.size()) return args.get(i);
        return kw.getOrDefault(name, dflt);
    }

    private String strArg(List<Object> args, Map<String, Object> kw, int i, String name, String method, int line) {
        Object v = arg(args, kw, i, name, null);
        if (v == null) return null;
        if (!(v instanceof String s)) throw new TemplateException(line, method + "() argument must be str or None, not " + Values.typeName(v));
        return s;
    }

    private Object callMethod(Object self, String name, List<Object> args, Map<String, Object> kw, int line) {
        step(line);
        if (self instanceof Map<?, ?> m) {
            switch (name) {
                case "get": {
                    Object key = arg(args, kw, 0, "key", null);
                    for (Map.Entry<?, ?> e : m.entrySet()) if (Values.eq(e.getKey(), key)) return e.getValue();
                    return arg(args, kw, 1, "default", null);
                }
                case "items": {
                    List<Object> out = new ArrayList<>();
                    for (Map.Entry<?, ?> e : m.entrySet()) out.add(Values.list(e.getKey(), e.getValue()));
                    return out;
                }
                case "keys": return new ArrayList<Object>(m.keySet());
                default: return new ArrayList<Object>(m.values());
            }
        }
        if (self instanceof List<?> l) {
            Object x = arg(args, kw, 0, "value", null);
            if (name.equals("count")) {
                long c = 0;
                for (Object o : l) if (Values.eq(o, x)) c++;
                return c;
            }
            for (int i = 0; i < l.size(); i++) if (Values.eq(l.get(i), x)) return (long) i;
            throw new TemplateException(line, Values.repr(x) + " is not in list");
        }
        String s = (String) self;
        switch (name) {
            case "startswith", "endswith": {
                Object p = arg(args, kw, 0, "prefix", null);
                List<Object> options = p instanceof List<?> pl ? new ArrayList<>(pl) : Values.list(p);
                for (Object o : options) {
                    if (!(o instanceof String x))
                        throw new TemplateException(line, name + " first arg must be str or a tuple of str, not " + Values.typeName(o));
                    if (name.equals("startswith") ? s.startsWith(x) : s.endsWith(x)) return true;
                }
                return false;
            }
            case "split", "rsplit": {
                String sep = strArg(args, kw, 0, "sep", name, line);
                Object maxV = arg(args, kw, 1, "maxsplit", -1L);
                long max = Values.isInt(maxV) ? Values.asLong(maxV) : -1;
                return name.equals("split") ? Strings.split(s, sep, max, line) : Strings.rsplit(s, sep, max, line);
            }
            case "strip": return Strings.strip(s, strArg(args, kw, 0, "chars", name, line), true, true);
            case "lstrip": return Strings.strip(s, strArg(args, kw, 0, "chars", name, line), true, false);
            case "rstrip": return Strings.strip(s, strArg(args, kw, 0, "chars", name, line), false, true);
            case "replace": {
                String old = strArg(args, kw, 0, "old", name, line), nu = strArg(args, kw, 1, "new", name, line);
                if (old == null || nu == null) throw new TemplateException(line, "replace() takes 2 string arguments");
                Object c = arg(args, kw, 2, "count", -1L);
                return Strings.replace(s, old, nu, Values.isInt(c) ? Values.asLong(c) : -1, limits, line);
            }
            case "upper": return s.toUpperCase(Locale.ROOT);
            case "lower": return s.toLowerCase(Locale.ROOT);
            case "casefold": return s.toLowerCase(Locale.ROOT);
            case "swapcase": {
                StringBuilder sb = new StringBuilder();
                s.codePoints().forEach(cp -> sb.appendCodePoint(Character.isUpperCase(cp) ? Character.toLowerCase(cp) : Character.toUpperCase(cp)));
                return sb.toString();
            }
            case "title": return Strings.title(s);
            case "capitalize": return Strings.capitalize(s);
            case "find", "rfind", "index": {
                String sub = strArg(args, kw, 0, "sub", name, line);
                if (sub == null) throw new TemplateException(line, name + "() needs a string");
                int i = name.equals("rfind") ? s.lastIndexOf(sub) : s.indexOf(sub);
                if (i < 0 && name.equals("index")) throw new TemplateException(line, "substring not found");
                return (long) (i < 0 ? -1 : s.codePointCount(0, i));
            }
            case "count": {
                String sub = strArg(args, kw, 0, "sub", name, line);
                if (sub == null) throw new TemplateException(line, "count() needs a string");
                if (sub.isEmpty()) return (long) s.codePointCount(0, s.length()) + 1;
                long c = 0;
                for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length())) c++;
                return c;
            }
            case "join": {
                List<Object> items = iterate(arg(args, kw, 0, "iterable", null), line);
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < items.size(); i++) {
                    if (!(items.get(i) instanceof String x))
                        throw new TemplateException(line, "sequence item " + i + ": expected str instance, " + Values.typeName(items.get(i)) + " found");
                    if (i > 0) sb.append(s);
                    sb.append(x);
                    limits.checkLength(sb.length(), line);
                }
                return sb.toString();
            }
            case "isdigit", "isnumeric", "isdecimal": return !s.isEmpty() && s.codePoints().allMatch(Character::isDigit);
            case "isalpha": return !s.isEmpty() && s.codePoints().allMatch(Character::isLetter);
            case "isalnum": return !s.isEmpty() && s.codePoints().allMatch(Character::isLetterOrDigit);
            case "isspace": return !s.isEmpty() && s.codePoints().allMatch(Strings::isSpace);
            case "isupper": return s.codePoints().anyMatch(Character::isUpperCase) && s.codePoints().noneMatch(Character::isLowerCase);
            case "islower": return s.codePoints().anyMatch(Character::isLowerCase) && s.codePoints().noneMatch(Character::isUpperCase);
            case "splitlines": {
                List<Object> out = new ArrayList<>();
                for (String part : s.split("\r\n|\n|\r", -1)) out.add(part);
                if (!out.isEmpty() && ((String) out.get(out.size() - 1)).isEmpty()) out.remove(out.size() - 1);
                return out;
            }
            case "removeprefix": {
                String p = strArg(args, kw, 0, "prefix", name, line);
                return p != null && s.startsWith(p) ? s.substring(p.length()) : s;
            }
            case "removesuffix": {
                String p = strArg(args, kw, 0, "suffix", name, line);
                return p != null && !p.isEmpty() && s.endsWith(p) ? s.substring(0, s.length() - p.length()) : s;
            }
            case "zfill", "center", "ljust", "rjust": {
                Object w = arg(args, kw, 0, "width", 0L);
                long width = Values.isInt(w) ? Values.asLong(w) : 0;
                limits.checkLength(width, line);
                int len = s.codePointCount(0, s.length());
                if (width <= len) return s;
                int pad = (int) (width - len);
                String fill = name.equals("zfill") ? "0" : String.valueOf(arg(args, kw, 1, "fillchar", " "));
                switch (name) {
                    case "zfill": {
                        boolean sign = !s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+');
                        return sign ? s.charAt(0) + "0".repeat(pad) + s.substring(1) : "0".repeat(pad) + s;
                    }
                    case "ljust": return s + fill.repeat(pad);
                    case "rjust": return fill.repeat(pad) + s;
                    default: {
                        int left = pad / 2 + (pad & len & 1);
                        return fill.repeat(left) + s + fill.repeat(pad - left);
                    }
                }
            }
            default: throw new TemplateException(line, "str has no method '" + name + "'");
        }
    }

    // ---- filters ----------------------------------------------------------------------------------------

    private Object filter(Node.Call c, Object value, Scope scope) {
        List<Object> args = new ArrayList<>();
        for (Node a : c.args) args.add(eval(a, scope));
        Map<String, Object> kw = new LinkedHashMap<>();
        for (int i = 0; i < c.kwNames.size(); i++) kw.put(c.kwNames.get(i), eval(c.kwValues.get(i), scope));
        return applyFilter(c.name, value, args, kw, c.line, scope);
    }

    private Object applyFilter(String name, Object v, List<Object> args, Map<String, Object> kw, int line, Scope scope) {
        step(line);
        switch (name) {
            case "safe", "e", "escape", "forceescape":
                if (name.equals("safe")) return v instanceof Undefined ? "" : v;
                return Strings.escapeHtml(Values.str(v));
            case "string": return Values.str(v);
            case "trim": return Strings.strip(Values.str(v), (String) arg(args, kw, 0, "chars", null), true, true);
            case "upper": return Values.str(v).toUpperCase(Locale.ROOT);
            case "lower": return Values.str(v).toLowerCase(Locale.ROOT);
            case "title": return Strings.title(Values.str(v));
            case "capitalize": return Strings.capitalize(Values.str(v));
            case "length", "count": {
                if (v instanceof String s) return (long) s.codePointCount(0, s.length());
                if (v instanceof List<?> l) return (long) l.size();
                if (v instanceof Map<?, ?> m) return (long) m.size();
                if (v instanceof Undefined) return 0L;
                throw new TemplateException(line, "object of type '" + Values.typeName(v) + "' has no len()");
            }
            case "tojson": {
                // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
                Object ind = kw.containsKey("indent") ? kw.get("indent") : args.size() > 1 ? args.get(1) : null;
                if (ind != null && !Values.isInt(ind)) throw new TemplateException(line, "tojson: indent must be an integer");
                Integer indent = ind == null ? null : (int) Math.max(0, Math.min(64, Values.asLong(ind)));
                String itemSep = indent == null ? ", " : ",", keySep = ": ";
                Object seps = kw.get("separators");
                if (seps instanceof List<?> sl && sl.size() == 2) {
                    itemSep = Values.str(sl.get(0));
                    keySep = Values.str(sl.get(1));
                }
                boolean sort = Values.truthy(kw.get("sort_keys"));
                StringBuilder sb = new StringBuilder();
                Values.json(sb, v, indent, itemSep, keySep, sort, 0, line, limits);
                return sb.toString();
            }
            case "first": {
                List<Object> items = iterate(v, line);
                return items.isEmpty() ? new Undefined("first of an empty sequence") : items.get(0);
            }
            case "last": {
                List<Object> items = iterate(v, line);
                return items.isEmpty() ? new Undefined("last of an empty sequence") : items.get(items.size() - 1);
            }
            case "list": return iterate(v, line);
            case "join": {
                String sep = Values.str(arg(args, kw, 0, "d", ""));
                Object attribute = arg(args, kw, 1, "attribute", null);
                StringBuilder sb = new StringBuilder();
                List<Object> items = iterate(v, line);
                for (int i = 0; i < items.size(); i++) {
                    Object it = items.get(i);
                    if (attribute != null) it = getattr(it, Values.str(attribute), line, "item");
                    if (i > 0) sb.append(sep);
                    sb.append(Values.str(it));
                    limits.checkLength(sb.length(), line);
                }
                return sb.toString();
            }
            case "default", "d": {
                Object dflt = arg(args, kw, 0, "default_value", "");
                boolean bool = Values.truthy(arg(args, kw, 1, "boolean", false));
                if (v instanceof Undefined || (bool && !Values.truthy(v))) return dflt;
                return v;
            }
            case "items": {
                if (v instanceof Undefined) return new ArrayList<>();
                if (!(v instanceof Map<?, ?> m)) throw new TemplateException(line, "items filter needs a mapping, got " + Values.typeName(v));
                List<Object> out = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(Values.list(e.getKey(), e.getValue()));
                return out;
            }
            case "dictsort": {
                if (!(v instanceof Map<?, ?> m)) throw new TemplateException(line, "dictsort needs a mapping, got " + Values.typeName(v));
                boolean caseSensitive = Values.truthy(arg(args, kw, 0, "case_sensitive", false));
                boolean byValue = "value".equals(arg(args, kw, 1, "by", "key"));
                boolean reverse = Values.truthy(arg(args, kw, 2, "reverse", false));
                List<Object> out = new ArrayList<>();
                for (Map.Entry<?, ?> e : m.entrySet()) out.add(Values.list(e.getKey(), e.getValue()));
                out.sort((x, y) -> {
                    Object a = ((List<?>) x).get(byValue ? 1 : 0), b = ((List<?>) y).get(byValue ? 1 : 0);
                    return sortCompare(a, b, caseSensitive, line);
                });
                if (reverse) java.util.Collections.reverse(out);
                return out;
            }
            case "replace": {
                String s = Values.str(v);
                Object c = arg(args, kw, 2, "count", -1L);
                return Strings.replace(s, Values.str(arg(args, kw, 0, "old", "")), Values.str(arg(args, kw, 1, "new", "")),
                        c == null ? -1 : Values.asLong(c), limits, line);
            }
            case "selectattr", "rejectattr", "select", "reject": {
                boolean attr = name.endsWith("attr");
                boolean keep = name.startsWith("select");
                List<Object> items = iterate(v, line);
                int k = 0;
                String attribute = attr ? Values.str(arg(args, kw, k++, "attribute", "")) : null;
                String test = args.size() > k ? Values.str(args.get(k)) : null;
                List<Object> testArgs = args.size() > k + 1 ? args.subList(k + 1, args.size()) : List.of();
                List<Object> out = new ArrayList<>();
                for (Object it : items) {
                    Object x = attr ? getattrPath(it, attribute, line) : it;
                    boolean ok = test == null ? Values.truthy(x) : applyTest(test, x, testArgs, line);
                    if (ok == keep) out.add(it);
                }
                return out;
            }
            case "map": {
                List<Object> items = iterate(v, line);
                List<Object> out = new ArrayList<>();
                if (kw.containsKey("attribute")) {
                    String attribute = Values.str(kw.get("attribute"));
                    for (Object it : items) {
                        Object x = getattrPath(it, attribute, line);
                        if (x instanceof Undefined && kw.containsKey("default")) x = kw.get("default");
                        out.add(x);
                    }
                    return out;
                }
                if (args.isEmpty()) throw new TemplateException(line, "map needs a filter name or attribute=");
                String f = Values.str(args.get(0));
                List<Object> rest = args.subList(1, args.size());
                for (Object it : items) out.add(applyFilter(f, it, new ArrayList<>(rest), new LinkedHashMap<>(), line, scope));
                return out;
            }
            case "attr": return getattr(v, Values.str(arg(args, kw, 0, "name", "")), line, "value");
            case "unique": {
                List<Object> out = new ArrayList<>();
                for (Object it : iterate(v, line)) {
                    boolean seen = false;
                    for (Object o : out) if (Values.eq(o, it)) { seen = true; break; }
                    if (!seen) out.add(it);
                }
                return out;
            }
            case "reverse": {
                if (v instanceof String s) return new StringBuilder(s).reverse().toString();
                List<Object> out = iterate(v, line);
                java.util.Collections.reverse(out);
                return out;
            }
            case "sort": {
                boolean reverse = Values.truthy(arg(args, kw, 0, "reverse", false));
                boolean cs = Values.truthy(arg(args, kw, 1, "case_sensitive", false));
                Object attribute = arg(args, kw, 2, "attribute", null);
                List<Object> out = iterate(v, line);
                out.sort((x, y) -> {
                    Object a = attribute == null ? x : getattrPath(x, Values.str(attribute), line);
                    Object b = attribute == null ? y : getattrPath(y, Values.str(attribute), line);
                    return sortCompare(a, b, cs, line);
                });
                if (reverse) java.util.Collections.reverse(out);
                return out;
            }
            case "sum": {
                Object attribute = arg(args, kw, 0, "attribute", null);
                Object total = arg(args, kw, 1, "start", 0L);
                for (Object it : iterate(v, line))
                    total = binary("+", total, attribute == null ? it : getattrPath(it, Values.str(attribute), line), line);
                return total;
            }
            case "min", "max": {
                List<Object> items = iterate(v, line);
                if (items.isEmpty()) return new Undefined(name + " of an empty sequence");
                Object best = items.get(0);
                for (Object it : items) {
                    int c = sortCompare(it, best, false, line);
                    if (name.equals("min") ? c < 0 : c > 0) best = it;
                }
                return best;
            }
            case "abs": {
                if (v instanceof Long l) return Math.abs(l);
                if (v instanceof Double d) return Math.abs(d);
                throw typeError(line, "bad operand type for abs(): '" + Values.typeName(v) + "'", v);
            }
            case "int": {
                Object dflt = arg(args, kw, 0, "default", 0L);
                if (v instanceof Long) return v;
                if (v instanceof Boolean b) return b ? 1L : 0L;
                if (v instanceof Double d) return (long) d.doubleValue();
                if (v instanceof String s) {
                    try {
                        return Long.parseLong(s.strip());
                    } catch (NumberFormatException e) {
                        try {
                            return (long) Double.parseDouble(s.strip());
                        } catch (NumberFormatException e2) {
                            return dflt;
                        }
                    }
                }
                return dflt;
            }
            case "float": {
                Object dflt = arg(args, kw, 0, "default", 0.0);
                if (Values.isNumber(v)) return Values.asDouble(v);
                if (v instanceof String s) {
                    try {
                        return Double.parseDouble(s.strip());
                    } catch (NumberFormatException e) {
                        return dflt;
                    }
                }
                return dflt;
            }
            case "round": {
                Object pr = arg(args, kw, 0, "precision", 0L);
                String method = Values.str(arg(args, kw, 1, "method", "common"));
                double x = Values.asDouble(v), f = Math.pow(10, Values.asLong(pr));
                double r = switch (method) {
                    case "ceil" -> Math.ceil(x * f) / f;
                    case "floor" -> Math.floor(x * f) / f;
                    default -> Math.signum(x) * Math.floor(Math.abs(x) * f + 0.5) / f;
                };
                return r;
            }
            case "indent": {
                Object w = arg(args, kw, 0, "width", 4L);
                String pad = w instanceof String ws ? ws : " ".repeat((int) Math.max(0, Math.min(1000, Values.asLong(w))));
                boolean first = Values.truthy(arg(args, kw, 1, "first", false));
                boolean blank = Values.truthy(arg(args, kw, 2, "blank", false));
                String s = Values.str(v);
                String[] lines = s.split("\n", -1);
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < lines.length; i++) {
                    if (i > 0) sb.append('\n');
                    boolean indentIt = (i > 0 || first) && (blank || !lines[i].isEmpty());
                    if (indentIt) sb.append(pad);
                    sb.append(lines[i]);
                    limits.checkLength(sb.length(), line);
                }
                return sb.toString();
            }
            case "wordcount": return (long) Values.str(v).trim().split("\\s+").length;
            case "batch", "slice", "groupby", "truncate", "wordwrap", "format", "pprint", "urlize", "xmlattr", "striptags",
                    "filesizeformat", "urlencode", "center":
                throw new TemplateException(line, "the filter '" + name + "' is not supported by this engine");
            default:
                throw new TemplateException(line, "no filter named '" + name + "'");
        }
    }

    private Object getattrPath(Object obj, String path, int line) {
        Object cur = obj;
        for (String part : path.split("\\.")) {
            if (cur instanceof Undefined) return cur;
            if (!part.isEmpty() && part.chars().allMatch(Character::isDigit)) cur = getitem(cur, Long.parseLong(part), line, "item");
            else cur = getattr(cur, part, line, "item");
        }
        return cur;
    }

    private int sortCompare(Object a, Object b, boolean caseSensitive, int line) {
        if (!caseSensitive && a instanceof String x && b instanceof String y)
            return Values.comparePoints(x.toLowerCase(Locale.ROOT), y.toLowerCase(Locale.ROOT));
        Integer c = Values.compare(a, b);
        if (c == null)
            throw new TemplateException(line, "'<' not supported between instances of '" + Values.typeName(a) + "' and '" + Values.typeName(b) + "'");
        return c;
    }

    // ---- tests ------------------------------------------------------------------------------------------

    private boolean test(Node.Call c, Scope scope) {
        Object v = eval(c.target, scope);
        List<Object> args = new ArrayList<>();
        for (Node a : c.args) args.add(eval(a, scope));
        boolean r = applyTest(c.name, v, args, c.line);
        return c.negated != r;
    }

    private boolean applyTest(String name, Object v, List<Object> args, int line) {
        step(line);
        Object a = args.isEmpty() ? null : args.get(0);
        switch (name) {
            case "defined": return !(v instanceof Undefined);
            case "undefined": return v instanceof Undefined;
            case "none": return v == null;
            case "string": return v instanceof String;
            case "number": return v instanceof Long || v instanceof Double || v instanceof Boolean;
            case "integer": return v instanceof Long;
            case "float": return v instanceof Double;
            case "boolean": return v instanceof Boolean;
            case "true": return Boolean.TRUE.equals(v);
            case "false": return Boolean.FALSE.equals(v);
            case "mapping": return v instanceof Map;
            case "iterable": return v instanceof List || v instanceof Map || v instanceof String;
            case "sequence": return v instanceof List || v instanceof Map || v instanceof String;
            case "callable": return v instanceof Fn;
            case "equalto", "eq", "==": return Values.eq(v, a);
            case "ne", "!=": return !Values.eq(v, a);
            case "sameas": return v == a || (v != null && !(v instanceof List) && !(v instanceof Map) && Values.eq(v, a)
                    && v.getClass() == (a == null ? null : a.getClass()));
            case "lt", "lessthan", "<": return compare("<", v, a, line);
            case "le", "<=": return compare("<=", v, a, line);
            case "gt", "greaterthan", ">": return compare(">", v, a, line);
            case "ge", ">=": return compare(">=", v, a, line);
            case "in": return contains(a, v, line);
            case "odd", "even": {
                if (!Values.isInt(v)) throw typeError(line, name + " test needs an integer", v);
                return (Math.floorMod(Values.asLong(v), 2) == 1) == name.equals("odd");
            }
            case "divisibleby": {
                if (!Values.isInt(v) || !Values.isInt(a) || Values.asLong(a) == 0) throw typeError(line, "divisibleby needs integers", v, a);
                return Values.asLong(v) % Values.asLong(a) == 0;
            }
            case "lower": return v instanceof String s && s.equals(s.toLowerCase(Locale.ROOT));
            case "upper": return v instanceof String s && s.equals(s.toUpperCase(Locale.ROOT));
            case "escaped": return false;
            default: throw new TemplateException(line, "no test named '" + name + "'");
        }
    }

    // ---- globals ----------------------------------------------------------------------------------------

    private void installGlobals(Map<String, Object> g) {
        g.put("range", (Fn) (args, kw, line) -> {
            if (args.isEmpty() || args.size() > 3) throw new TemplateException(line, "range expected 1 to 3 arguments, got " + args.size());
            for (Object o : args) if (!Values.isInt(o)) throw typeError(line, "range() needs integers, got '" + Values.typeName(o) + "'", o);
            long start = 0, stop, st = 1;
            if (args.size() == 1) stop = Values.asLong(args.get(0));
            else {
                start = Values.asLong(args.get(0));
                stop = Values.asLong(args.get(1));
                if (args.size() == 3) st = Values.asLong(args.get(2));
            }
            if (st == 0) throw new TemplateException(line, "range() arg 3 must not be zero");
            long n = st > 0 ? (stop > start ? (stop - start + st - 1) / st : 0) : (start > stop ? (start - stop - st - 1) / -st : 0);
            if (n > limits.maxRange() || n < 0)
                throw new TemplateException(line, "range too big: " + n + " items, the sandbox allows " + limits.maxRange());
            List<Object> out = new ArrayList<>((int) n);
            for (long i = 0, x = start; i < n; i++, x += st) out.add(x);
            return out;
        });
        g.put("namespace", (Fn) (args, kw, line) -> {
            Namespace ns = new Namespace();
            for (Object a : args) {
                if (!(a instanceof Map<?, ?> m)) throw new TemplateException(line, "namespace() takes a mapping or keyword arguments");
                for (Map.Entry<?, ?> e : m.entrySet()) ns.attrs.put(Values.str(e.getKey()), e.getValue());
            }
            ns.attrs.putAll(kw);
            return ns;
        });
        g.put("dict", (Fn) (args, kw, line) -> {
            Map<Object, Object> out = new LinkedHashMap<>();
            for (Object a : args) {
                if (!(a instanceof Map<?, ?> m)) throw new TemplateException(line, "dict() takes a mapping or keyword arguments");
                out.putAll(m);
            }
            out.putAll(kw);
            return out;
        });
        g.put("raise_exception", (Fn) (args, kw, line) -> {
            throw new Raised(line, args.isEmpty() ? "(no message)" : Values.str(args.get(0)));
        });
        g.put("strftime_now", (Fn) (args, kw, line) -> {
            if (args.isEmpty() || !(args.get(0) instanceof String f)) throw new TemplateException(line, "strftime_now(format) needs a string");
            return Strings.strftime(LocalDateTime.now(), f, line);
        });
        g.put("cycler", (Fn) (args, kw, line) -> new Cycler(new ArrayList<>(args)));
        g.put("joiner", (Fn) (args, kw, line) -> {
            String sep = args.isEmpty() ? ", " : Values.str(args.get(0));
            boolean[] used = {false};
            return (Fn) (a, k, l) -> {
                if (!used[0]) {
                    used[0] = true;
                    return "";
                }
                return sep;
            };
        });
    }

    /** String helpers with Python's semantics. */
    static final class Strings {
        private Strings() {}

        static boolean isSpace(int cp) {
            return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85 || (cp >= 0x1c && cp <= 0x1f);
        }

        static String strip(String s, String chars, boolean left, boolean right) {
            java.util.Set<Integer> set = null;
            if (chars != null) {
                set = new LinkedHashSet<>();
                for (int cp : chars.codePoints().toArray()) set.add(cp);
            }
            int i = 0, j = s.length();
            while (left && i < j) {
                int cp = s.codePointAt(i);
                if (set == null ? !isSpace(cp) : !set.contains(cp)) break;
                i += Character.charCount(cp);
            }
            while (right && j > i) {
                int cp = s.codePointBefore(j);
                if (set == null ? !isSpace(cp) : !set.contains(cp)) break;
                j -= Character.charCount(cp);
            }
            return s.substring(i, j);
        }

        static List<Object> split(String s, String sep, long max, int line) {
            List<Object> out = new ArrayList<>();
            if (sep == null) {
                int i = 0, n = s.length();
                while (true) {
                    while (i < n && isSpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
                    if (i >= n) break;
                    if (max >= 0 && out.size() == max) {
                        out.add(strip(s.substring(i), null, false, true));
                        break;
                    }
                    int j = i;
                    while (j < n && !isSpace(s.codePointAt(j))) j += Character.charCount(s.codePointAt(j));
                    out.add(s.substring(i, j));
                    i = j;
                }
                return out;
            }
            if (sep.isEmpty()) throw new TemplateException(line, "empty separator");
            int i = 0;
            while (true) {
                int k = s.indexOf(sep, i);
                if (k < 0 || (max >= 0 && out.size() == max)) {
                    out.add(s.substring(i));
                    return out;
                }
                out.add(s.substring(i, k));
                i = k + sep.length();
            }
        }

        static List<Object> rsplit(String s, String sep, long max, int line) {
            if (max < 0) return split(s, sep, max, line);
            List<Object> out = new ArrayList<>();
            if (sep == null) {
                int j = s.length();
                while (true) {
                    while (j > 0 && isSpace(s.codePointBefore(j))) j -= Character.charCount(s.codePointBefore(j));
                    if (j <= 0) break;
                    if (out.size() == max) {
                        out.add(0, strip(s.substring(0, j), null, true, false));
                        break;
                    }
                    int i = j;
                    while (i > 0 && !isSpace(s.codePointBefore(i))) i -= Character.charCount(s.codePointBefore(i));
                    out.add(0, s.substring(i, j));
                    j = i;
                }
                return out;
            }
            if (sep.isEmpty()) throw new TemplateException(line, "empty separator");
            int j = s.length();
            while (true) {
                int k = out.size() == max ? -1 : s.lastIndexOf(sep, j - sep.length());
                if (k < 0) {
                    out.add(0, s.substring(0, j));
                    return out;
                }
                out.add(0, s.substring(k + sep.length(), j));
                j = k;
            }
        }

        static String replace(String s, String old, String nu, long count, Limits limits, int line) {
            if (count == 0) return s;
            StringBuilder sb = new StringBuilder();
            if (old.isEmpty()) {
                int[] cps = s.codePoints().toArray();
                long done = 0;
                for (int cp : cps) {
                    if (count < 0 || done < count) {
                        sb.append(nu);
                        done++;
                    }
                    sb.appendCodePoint(cp);
                    limits.checkLength(sb.length(), line);
                }
                if (count < 0 || done < count) sb.append(nu);
                limits.checkLength(sb.length(), line);
                return sb.toString();
            }
            int i = 0;
            long done = 0;
            while (true) {
                int k = (count >= 0 && done >= count) ? -1 : s.indexOf(old, i);
                if (k < 0) {
                    sb.append(s, i, s.length());
                    break;
                }
                sb.append(s, i, k).append(nu);
                limits.checkLength(sb.length(), line);
                i = k + old.length();
                done++;
            }
            limits.checkLength(sb.length(), line);
            return sb.toString();
        }

        static String title(String s) {
            StringBuilder sb = new StringBuilder();
            boolean prevCased = false;
            for (int i = 0; i < s.length(); ) {
                int cp = s.codePointAt(i);
                boolean cased = Character.isLetter(cp);
                sb.appendCodePoint(cased ? (prevCased ? Character.toLowerCase(cp) : Character.toTitleCase(cp)) : cp);
                prevCased = cased;
                i += Character.charCount(cp);
            }
            return sb.toString();
        }

        static String capitalize(String s) {
            if (s.isEmpty()) return s;
            int cp = s.codePointAt(0);
            return new String(Character.toChars(Character.toTitleCase(cp))) + s.substring(Character.charCount(cp)).toLowerCase(Locale.ROOT);
        }

        static String escapeHtml(String s) {
            return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&#34;").replace("'", "&#39;");
        }

        static String strftime(LocalDateTime t, String f, int line) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < f.length(); i++) {
                char c = f.charAt(i);
                if (c != '%' || i + 1 >= f.length()) {
                    sb.append(c);
                    continue;
                }
                char d = f.charAt(++i);
                boolean noPad = false;
                if (d == '-' && i + 1 < f.length()) {
                    noPad = true;
                    d = f.charAt(++i);
                }
                String two = noPad ? "%d" : "%02d";
                switch (d) {
                    case 'Y' -> sb.append(t.getYear());
                    case 'y' -> sb.append(String.format("%02d", t.getYear() % 100));
                    case 'm' -> sb.append(String.format(two, t.getMonthValue()));
                    case 'd' -> sb.append(String.format(two, t.getDayOfMonth()));
                    case 'e' -> sb.append(String.format("%2d", t.getDayOfMonth()));
                    case 'H' -> sb.append(String.format(two, t.getHour()));
                    case 'I' -> sb.append(String.format(two, (t.getHour() + 11) % 12 + 1));
                    case 'M' -> sb.append(String.format(two, t.getMinute()));
                    case 'S' -> sb.append(String.format(two, t.getSecond()));
                    case 'p' -> sb.append(t.getHour() < 12 ? "AM" : "PM");
                    case 'j' -> sb.append(String.format(noPad ? "%d" : "%03d", t.getDayOfYear()));
                    case 'B' -> sb.append(t.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                    case 'b', 'h' -> sb.append(t.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                    case 'A' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                    case 'a' -> sb.append(t.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                    case '%' -> sb.append('%');
                    default -> throw new TemplateException(line, "strftime_now: unsupported directive %" + d);
                }
            }
            return sb.toString();
        }
    }
}
