# xapi-c/: the xapi daemon. Everything but main.c also goes into a library
# that the unit tests and fuzz targets link.
XAPI_SRCS := $(filter-out xapi-c/main.c,$(wildcard xapi-c/*.c xapi-c/api/*.c xapi-c/cli/*.c))
# The thin CLI (cli/) writes on the TLS session libmicrohttpd made.
LIBS += $(shell pkg-config --libs gnutls)
# VHD imports write at offsets through NBD (xfer_vhd.c).
LIBS += $(shell pkg-config --libs libnbd)
# Compressed XVAs (xva_codec.c) and VM.import from a URL (xva_url.c).
LIBS += $(shell pkg-config --libs zlib libzstd libcurl)
XAPI_OBJS := $(XAPI_SRCS:%.c=$(BUILD)/%.o)

$(BUILD)/libxapi.a: $(XAPI_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/xapi: $(BUILD)/xapi-c/main.o $(BUILD)/libxapi.a $(BUILD)/libxenia.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
