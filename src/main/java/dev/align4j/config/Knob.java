package dev.align4j.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a config record's component as a setting a user sets by name: the command line's {@code --name}, the same
 * key in a {@code --config} file, and its line in {@code --help}, all derived from the record by one binder, with the
 * default taken from the record's defaults — so the default is stated once, in the record. A component whose type is
 * a record and that carries no {@code Knob} is walked into; one of another type without it is not settable by name.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface Knob {
    /** The name without dashes; default: the component's name in kebab case ({@code minLr} → {@code min-lr}). */
    String name() default "";

    /** Other names of the same setting. */
    String[] aliases() default {};

    /** What the value means, for {@code --help} (the default is appended by the binder). */
    String doc();

    /** The value's placeholder in {@code --help}; default: from the type. */
    String label() default "";

    /**
     * The name of a sibling knob whose default ratio this one keeps when only that sibling is set: {@code min-lr}
     * follows {@code lr}, so {@code --lr 1e-2} alone also scales the final rate.
     */
    String ratioTo() default "";
}
