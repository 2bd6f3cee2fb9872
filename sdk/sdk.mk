# sdk/: the C SDK (libxenserver), shaped like XenServer's C SDK. sdkgen
# (sdk/gen/sdkgen.c, linked with the server's data model) writes the
# headers and sources of every class into $(BUILD)/sdk/; the hand-written
# runtime (sdk/src/) and those are built into libxenserver.so (with a
# SONAME) and libxenserver.a, with a xenserver.pc for pkg-config. The
# example and the test programs that tests/integration/test_sdk.py runs
# against a live host are built too. Included from the top Makefile.
SDK_OUT := $(BUILD)/sdk
SDK_SHARDS := 0 1 2 3 4 5 6 7
SDK_SOVERSION := 2
SDK_GEN_SRCS := $(SDK_OUT)/src/gen_types.c $(SDK_SHARDS:%=$(SDK_OUT)/src/gen_%.c)
SDK_STAMP := $(SDK_OUT)/.generated
SDK_RT_SRCS := $(wildcard sdk/src/*.c)
SDK_OBJS := $(SDK_RT_SRCS:sdk/src/%.c=$(SDK_OUT)/obj/%.o) \
            $(SDK_GEN_SRCS:$(SDK_OUT)/src/%.c=$(SDK_OUT)/gobj/%.o)
SDK_INCLUDES := -I$(SDK_OUT)/include -Isdk/include -Isdk/src -I$(SDK_OUT)/src
SDK_CFLAGS = -std=gnu17 -D_GNU_SOURCE -fPIC $(WARN) $(CFLAGS) $(SDK_INCLUDES) \
             $(shell pkg-config --cflags libxml-2.0) -MMD -MP
SDK_LIBS = $(shell pkg-config --libs libxml-2.0)
SDK_CURL_CFLAGS = $(shell pkg-config --cflags libcurl)
SDK_CURL_LIBS = $(shell pkg-config --libs libcurl)
SDK_TEST_PROGS := $(SDK_OUT)/tests/sdk-check $(SDK_OUT)/tests/upstream-style
SDK_PROGS := $(SDK_OUT)/examples/xen-list-vms $(SDK_TEST_PROGS)

all: $(SDK_OUT)/libxenserver.so $(SDK_OUT)/libxenserver.a $(SDK_OUT)/xenserver.pc $(SDK_PROGS)

# The generator links only the model's objects, so that other changes to
# xapi do not regenerate the SDK. It runs on the build machine; leak checks
# do not matter to it.
$(BUILD)/sdk/sdkgen: $(BUILD)/sdk/gen/sdkgen.o $(BUILD)/xapi-c/model.o $(BUILD)/xapi-c/out.o \
		$(BUILD)/libxenia.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(SDK_STAMP): $(BUILD)/sdk/sdkgen $(wildcard xapi-c/datamodel/*.def)
	rm -rf $(SDK_OUT)/include $(SDK_OUT)/src
	ASAN_OPTIONS=detect_leaks=0 $(BUILD)/sdk/sdkgen $(SDK_OUT) $(words $(SDK_SHARDS))
	touch $@

$(SDK_GEN_SRCS): $(SDK_STAMP) ;

$(SDK_OUT)/obj/%.o: sdk/src/%.c | $(SDK_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(SDK_CFLAGS) -c -o $@ $<

$(SDK_OUT)/gobj/%.o: $(SDK_OUT)/src/%.c | $(SDK_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(SDK_CFLAGS) -c -o $@ $<

$(SDK_OUT)/libxenserver.so.$(SDK_SOVERSION): $(SDK_OBJS)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libxenserver.so.$(SDK_SOVERSION) -o $@ $^ $(SDK_LIBS)

$(SDK_OUT)/libxenserver.so: $(SDK_OUT)/libxenserver.so.$(SDK_SOVERSION)
	ln -sf libxenserver.so.$(SDK_SOVERSION) $@

$(SDK_OUT)/libxenserver.a: $(SDK_OBJS)
	rm -f $@ && $(AR) rcs $@ $^

$(SDK_OUT)/xenserver.pc: sdk/xenserver.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(SDK_SOVERSION).21.0|g' $< > $@

# The example links the shared library, as an application would; the test
# programs link the static one.
$(SDK_OUT)/examples/%.o: sdk/examples/%.c | $(SDK_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(SDK_CFLAGS) $(SDK_CURL_CFLAGS) -c -o $@ $<

$(SDK_OUT)/examples/xen-list-vms: $(SDK_OUT)/examples/xen-list-vms.o \
		$(SDK_OUT)/examples/curl-transport.o $(SDK_OUT)/libxenserver.so
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) -L$(SDK_OUT) -Wl,-rpath,$(abspath $(SDK_OUT)) \
		-lxenserver $(SDK_CURL_LIBS) $(SDK_LIBS)

$(SDK_OUT)/tests/%.o: sdk/tests/%.c | $(SDK_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(SDK_CFLAGS) $(SDK_CURL_CFLAGS) -Isdk/examples -c -o $@ $<

# sdk-check also has the accessor checks that sdkgen writes (gen_check.c).
$(SDK_OUT)/tests/gen_check.o: $(SDK_OUT)/src/gen_check.c | $(SDK_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(SDK_CFLAGS) -Isdk/tests -Wno-cast-function-type -c -o $@ $<

$(SDK_OUT)/src/gen_check.c: $(SDK_STAMP) ;

$(SDK_OUT)/tests/sdk-check: $(SDK_OUT)/tests/gen_check.o

$(SDK_TEST_PROGS): $(SDK_OUT)/tests/%: $(SDK_OUT)/tests/%.o $(SDK_OUT)/examples/curl-transport.o \
		$(SDK_OUT)/libxenserver.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o %.a,$^) $(SDK_CURL_LIBS) $(SDK_LIBS)

install-sdk: $(SDK_OUT)/libxenserver.so $(SDK_OUT)/libxenserver.a $(SDK_OUT)/xenserver.pc
	install -d $(DESTDIR)$(PREFIX)/include/xen/api $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0644 sdk/include/xen/api/*.h $(SDK_OUT)/include/xen/api/*.h \
		$(DESTDIR)$(PREFIX)/include/xen/api/
	install -m 0755 $(SDK_OUT)/libxenserver.so.$(SDK_SOVERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libxenserver.so.$(SDK_SOVERSION) $(DESTDIR)$(PREFIX)/lib/libxenserver.so
	install -m 0644 $(SDK_OUT)/libxenserver.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 $(SDK_OUT)/xenserver.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

INSTALL_TARGETS += install-sdk
.PHONY: install-sdk
