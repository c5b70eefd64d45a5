package dev.align4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * NativeConstants (generated into Java from native/constants.def) against the table that the native library was
 * compiled from (the same file, through align4j.h's enum): they can part only through a generator fault or a
 * library built from other sources, and then every code crossing JNI would mean something else.
 */
class NativeConstantsTest {
    @Test
    void javaConstantsAreTheCompiledNativeTable() {
        Map<String, Integer> compiled = new LinkedHashMap<>();
        for (int i = 0; NativeLib.a4j_constant_name(i) != null; i++)
            compiled.put(NativeLib.a4j_constant_name(i), NativeLib.a4j_constant_value(i));
        assertNull(NativeLib.a4j_constant_name(-1));
        assertTrue(compiled.containsKey("PREF_SIMPO") && compiled.containsKey("ERR_ARGUMENT"), compiled.toString());
        assertEquals(compiled.toString(), NativeConstants.all().toString(), "same names, values and order");
    }

    @Test
    void everyFieldIsInTheTable() throws IllegalAccessException {
        Map<String, Integer> fields = new LinkedHashMap<>();
        for (Field f : NativeConstants.class.getDeclaredFields())
            if (f.getType() == int.class && Modifier.isPublic(f.getModifiers()) && Modifier.isStatic(f.getModifiers()))
                fields.put(f.getName(), f.getInt(null));
        assertEquals(NativeConstants.all(), fields);
    }

    @Test
    void anEnumConstantWithoutANativeOneIsNamed() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> NativeConstants.code("AGG", Thread.State.BLOCKED));
        assertTrue(e.getMessage().contains("AGG_BLOCKED") && e.getMessage().contains("native/constants.def"),
                e.getMessage());
    }
}
