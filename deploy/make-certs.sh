#!/bin/sh
# Makes a small CA and the certificates for mutual TLS with openssl:
#   deploy/make-certs.sh DIR SERVER-NAME [HOST...]
# DIR/ca.pem, ca.key     the CA (keep ca.key offline)
# DIR/server.pem, .key   aio-server, for SERVER-NAME (and 127.0.0.1)
# DIR/admin.pem, .key    a client certificate for aioctl
# DIR/HOST.pem, .key     one per agent
# Keys are ECDSA P-256, certificates valid for DAYS (default 825) days.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR SERVER-NAME [HOST...]" >&2; exit 64; }
dir=$1
server=$2
shift 2
days=${DAYS:-825}
umask 077
mkdir -p "$dir"
cd "$dir"

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1.key"; }

# sign NAME CN EXT: a certificate for NAME.key signed by the CA
sign() {
	printf '%s\n' "$3" > "$1.ext"
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
		-days "$days" -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

if [ ! -f ca.key ]; then
	key ca
	openssl req -x509 -new -key ca.key -subj "/CN=aioctl CA" -days "$days" -sha256 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
fi
key server
sign server "$server" "basicConstraints=CA:false
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth
subjectAltName=DNS:$server,IP:127.0.0.1,IP:::1"
key admin
sign admin admin "basicConstraints=CA:false
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=clientAuth"
for host in "$@"; do
	key "$host"
	sign "$host" "$host" "basicConstraints=CA:false
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=clientAuth"
done
chmod 644 ./*.pem
echo "certificates in $dir: ca.pem server.pem admin.pem $*"
