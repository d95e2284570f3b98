#!/bin/sh
# Makes two small CAs and the certificates for mutual TLS with openssl:
#   deploy/make-certs.sh DIR SERVER-NAME [HOST...]
# DIR/ca.pem, ca.key     the CA of the server and the agents (keep ca.key
#                        offline); everyone verifies the server with ca.pem
# DIR/admin-ca.pem, .key the CA of aioctl's certificates (the server's
#                        admin-tls-ca): an agent's certificate is not one
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

# sign NAME CN EXT [CA]: a certificate for NAME.key signed by CA (ca)
sign() {
	ca=${4:-ca}
	printf '%s\n' "$3" > "$1.ext"
	openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
		-days "$days" -sha256 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
	rm -f "$1.csr" "$1.ext"
}

# make_ca NAME CN
make_ca() {
	[ -f "$1.key" ] && return
	key "$1"
	openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days "$days" -sha256 \
		-addext "basicConstraints=critical,CA:true" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$1.pem"
}

make_ca ca "aioctl CA"
make_ca admin-ca "aioctl admin CA"
key server
sign server "$server" "basicConstraints=CA:false
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=serverAuth
subjectAltName=DNS:$server,IP:127.0.0.1,IP:::1"
key admin
sign admin admin "basicConstraints=CA:false
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=clientAuth" admin-ca
for host in "$@"; do
	key "$host"
	sign "$host" "$host" "basicConstraints=CA:false
keyUsage=critical,digitalSignature,keyAgreement
extendedKeyUsage=clientAuth"
done
chmod 644 ./*.pem
echo "certificates in $dir: ca.pem admin-ca.pem server.pem admin.pem $*"
