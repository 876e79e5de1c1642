// Writes .br and .gz beside each static asset, so the server sends them
// compressed at the best ratio without compressing on every request.
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");

for (const file of process.argv.slice(2)) {
  const data = fs.readFileSync(file);
  const br = zlib.brotliCompressSync(data, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  });
  fs.writeFileSync(`${file}.br`, br);
  fs.writeFileSync(`${file}.gz`, zlib.gzipSync(data, { level: 9 }));
  console.log(`${path.basename(file)}: ${data.length} bytes, brotli ${br.length}`);
}
