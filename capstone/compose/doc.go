// Package compose is `unbox compose`: a Compose file's services run as
// the engine's containers, named and labelled as Docker Compose names and
// labels them, so that `unbox ps`, `unbox logs` and `docker compose`'s
// habits carry over.
//
// The file is read by compose-spec/compose-go (the loader Docker Compose
// itself uses): its merging of several files, `.env` and ${VAR}
// interpolation, env_file, extends and normalisation are Compose's. What
// this package does with the loaded project:
//
//	PROJECT_NAME (volumes)        named volumes, labelled com.docker.compose.project
//	                              and com.docker.compose.volume; `down -v` removes them
//	PROJECT_default (networks)    the engine's bridge networks, labelled
//	                              com.docker.compose.project and com.docker.compose.network,
//	                              each with a DNS responder: a service is found by its
//	                              name there (networks_linux.go); `down` removes them
//	PROJECT-SERVICE-1             each service's container, created in depends_on
//	                              order (a cycle is an error before anything is made),
//	                              labelled com.docker.compose.{project,service,
//	                              container-number,oneoff,config-hash,...}, its ports
//	                              published on the host
//
// Images come first, as in Compose: before a network, volume or container
// is made, each service's image is pulled or built as its pull_policy says
// (ensureImage; `compose pull` is Pull), with the engine's registry client
// (capstone/image) and the CLI's configuration (Compose.Remote).
//
// A service's healthcheck goes into its container's config, where the
// container's monitor runs it (capstone/engine); a dependency with
// condition: service_healthy is waited for by polling the container's
// health until it is healthy (or unhealthy, or the container exits: then
// up fails, naming it). `up` finds
// the containers it made before by their labels: one whose config hash
// is unchanged is started again, one whose service changed is recreated.
//
// A key of the file this package does not act on is named in a warning
// (Warnings), never silently dropped.
package compose
