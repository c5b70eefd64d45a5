package dev.align4j.tokenizer.jinja;

import java.util.List;

/** The syntax tree of a template: statements and expressions, each with its source line. */
abstract class Node {
    final int line;

    Node(int line) {
        this.line = line;
    }

    // ---- statements -------------------------------------------------------------------------------------

    static final class Text extends Node {
        final String text;
        Text(int line, String text) { super(line); this.text = text; }
    }

    static final class Output extends Node {
        final Node expr;
        Output(int line, Node expr) { super(line); this.expr = expr; }
    }

    static final class If extends Node {
        final List<Node> conditions;       // one per if/elif
        final List<List<Node>> bodies;     // one per condition, plus the else body (maybe empty)
        If(int line, List<Node> conditions, List<List<Node>> bodies) { super(line); this.conditions = conditions; this.bodies = bodies; }
    }

    static final class For extends Node {
        final List<String> targets;        // one name, or several (unpacking)
        final Node iterable;
        final Node filter;                 // {% for x in xs if cond %}, or null
        final List<Node> body, elseBody;
        final boolean recursive;
        For(int line, List<String> targets, Node iterable, Node filter, List<Node> body, List<Node> elseBody, boolean recursive) {
            super(line);
            this.targets = targets;
            this.iterable = iterable;
            this.filter = filter;
            this.body = body;
            this.elseBody = elseBody;
            this.recursive = recursive;
        }
    }

    /** {@code {% set a = x %}}, {@code {% set a, b = x %}}, {@code {% set ns.attr = x %}}, or the block form. */
    static final class Set extends Node {
        final List<String> targets;
        final String attribute;            // ns.attr: targets = [ns], attribute = attr
        final Node value;                  // null for the block form
        final List<Node> body;             // the block form's body
        Set(int line, List<String> targets, String attribute, Node value, List<Node> body) {
            super(line);
            this.targets = targets;
            this.attribute = attribute;
            this.value = value;
            this.body = body;
        }
    }

    static final class Macro extends Node {
        final String name;
        final List<String> params;
        final List<Node> defaults;         // aligned with params; null where none
        final List<Node> body;
        Macro(int line, String name, List<String> params, List<Node> defaults, List<Node> body) {
            super(line);
            this.name = name;
            this.params = params;
            this.defaults = defaults;
            this.body = body;
        }
    }

    /** {@code {% generation %}...{% endgeneration %}}: transformers' marker of assistant-generated text. */
    static final class Generation extends Node {
        final List<Node> body;
        Generation(int line, List<Node> body) { super(line); this.body = body; }
    }

    /** {@code {% filter name %}...{% endfilter %}}. */
    static final class FilterBlock extends Node {
        final Call filter;
        final List<Node> body;
        FilterBlock(int line, Call filter, List<Node> body) { super(line); this.filter = filter; this.body = body; }
    }

    static final class Break extends Node { Break(int line) { super(line); } }

    static final class Continue extends Node { Continue(int line) { super(line); } }

    /** {@code {% do expr %}}. */
    static final class Do extends Node {
        final Node expr;
        Do(int line, Node expr) { super(line); this.expr = expr; }
    }

    // ---- expressions ------------------------------------------------------------------------------------

    static final class Literal extends Node {
        final Object value;
        Literal(int line, Object value) { super(line); this.value = value; }
    }

    static final class Name extends Node {
        final String name;
        Name(int line, String name) { super(line); this.name = name; }
    }

    static final class ListExpr extends Node {
        final List<Node> items;
        final boolean tuple;
        ListExpr(int line, List<Node> items, boolean tuple) { super(line); this.items = items; this.tuple = tuple; }
    }

    static final class DictExpr extends Node {
        final List<Node> keys, values;
        DictExpr(int line, List<Node> keys, List<Node> values) { super(line); this.keys = keys; this.values = values; }
    }

    static final class Attr extends Node {
        final Node target;
        final String name;
        Attr(int line, Node target, String name) { super(line); this.target = target; this.name = name; }
    }

    static final class Index extends Node {
        final Node target, index;
        Index(int line, Node target, Node index) { super(line); this.target = target; this.index = index; }
    }

    static final class Slice extends Node {
        final Node target, start, stop, step;  // each may be null
        Slice(int line, Node target, Node start, Node stop, Node step) {
            super(line);
            this.target = target;
            this.start = start;
            this.stop = stop;
            this.step = step;
        }
    }

    /** A call {@code f(a, k=v)}, a filter {@code x | f(a)} (target = x) or a test {@code x is f(a)}. */
    static final class Call extends Node {
        final Node callee;                 // for calls
        final String name;                 // for filters and tests
        final Node target;                 // the filtered/tested value
        final List<Node> args;
        final List<String> kwNames;
        final List<Node> kwValues;
        final boolean negated;             // is not
        Call(int line, Node callee, String name, Node target, List<Node> args, List<String> kwNames, List<Node> kwValues,
             boolean negated) {
            super(line);
            this.callee = callee;
            this.name = name;
            this.target = target;
            this.args = args;
            this.kwNames = kwNames;
            this.kwValues = kwValues;
            this.negated = negated;
        }
    }

    static final class Filter extends Node {
        final Call call;
        Filter(Call call) { super(call.line); this.call = call; }
    }

    static final class Test extends Node {
        final Call call;
        Test(Call call) { super(call.line); this.call = call; }
    }

    static final class Unary extends Node {
        final String op;
        final Node operand;
        Unary(int line, String op, Node operand) { super(line); this.op = op; this.operand = operand; }
    }

    static final class Binary extends Node {
        final String op;
        final Node left, right;
        Binary(int line, String op, Node left, Node right) { super(line); this.op = op; this.left = left; this.right = right; }
    }

    /** {@code a < b <= c}: Python's chained comparison. */
    static final class Compare extends Node {
        final Node first;
        final List<String> ops;
        final List<Node> rest;
        Compare(int line, Node first, List<String> ops, List<Node> rest) { super(line); this.first = first; this.ops = ops; this.rest = rest; }
    }

    static final class CondExpr extends Node {
        final Node cond, then, otherwise;  // otherwise may be null (undefined)
        CondExpr(int line, Node cond, Node then, Node otherwise) { super(line); this.cond = cond; this.then = then; this.otherwise = otherwise; }
    }
}
