# bash completion for orchctl                              -*- shell-script -*-
#
# Completes orchctl's commands, subcommands and options, the values of
# the options that have a fixed set, and the names of tasks, nodes and
# services, which it asks the manager for (orchctl ... -o name, with the
# same --addr, --token and --cacert as the line being completed, or
# their environment variables); a manager that does not answer gives no
# names.  Installed as share/bash-completion/completions/orchctl.

# The names "orchctl ARGS -o name" prints, for the words being completed.
_orchctl_names()
{
	local -a conn=()
	local i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--addr | --token | --cacert)
			conn+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}")
			;;
		--addr=* | --token=* | --cacert=*)
			conn+=("${COMP_WORDS[i]}")
			;;
		esac
	done
	"${COMP_WORDS[0]}" "${conn[@]}" "$@" -o name 2>/dev/null
}

# Sets COMPREPLY to the words of $1 that start with the current word.
_orchctl_words()
{
	local w
	COMPREPLY=()
	while IFS= read -r w; do
		[[ -n $w ]] && COMPREPLY+=("$w")
	done < <(compgen -W "$1" -- "$cur")
}

_orchctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local verbs="run list get stop nodes node service scale events logs help"
	local conn="--addr --token --cacert --color --help"
	local run_opts="--driver --cpu --memory --env -e --constraint
		--placement --restart --replicas --idempotency-key --privileged
		--volume -v --network --cap-add --wait --wait-timeout"
	local verb= sub= i w npos=0
	COMPREPLY=()

	# The option values with a fixed set, and those to leave alone.
	case $prev in
	--color)
		_orchctl_words "auto always never"
		return
		;;
	-o | --output)
		_orchctl_words "json name"
		return
		;;
	--status)
		_orchctl_words "Pending Scheduled Running Completed Failed Stopped"
		return
		;;
	--driver)
		_orchctl_words "docker exec"
		return
		;;
	--placement)
		_orchctl_words "spread binpack"
		return
		;;
	--restart)
		_orchctl_words "never on-failure always"
		return
		;;
	--network)
		_orchctl_words "bridge host none"
		return
		;;
	--stream)
		_orchctl_words "stdout stderr"
		return
		;;
	--cacert)
		local IFS=$'\n'
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--addr | --token | --cpu | --memory | -e | --env | --replicas | \
		--constraint | --idempotency-key | -v | --volume | --cap-add | \
		--since | --wait-timeout | --tail)
		return
		;;
	esac

	# The command, its subcommand and how many arguments came before.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--) return ;; # a command and its own arguments follow
		--addr | --token | --cacert | --color | -o | --output | \
			--status | --driver | --cpu | --memory | -e | --env | \
			--constraint | --placement | --restart | --replicas | \
			--idempotency-key | -v | --volume | --network | --cap-add | \
			--since | --wait-timeout | --tail | --stream)
			((i++))
			;;
		-*) ;;
		*)
			if [[ -z $verb ]]; then
				verb=$w
			elif [[ -z $sub && ($verb == node || $verb == service) ]]; then
				sub=$w
			else
				((npos++))
			fi
			;;
		esac
	done

	if [[ -z $verb ]]; then
		if [[ $cur == -* ]]; then
			_orchctl_words "$conn --version"
		else
			_orchctl_words "$verbs"
		fi
		return
	fi
	case $verb in
	run)
		[[ $cur == -* ]] && _orchctl_words "$run_opts $conn"
		;;
	list)
		[[ $cur == -* ]] && _orchctl_words "--status --output -o $conn"
		;;
	get | stop)
		if [[ $cur == -* ]]; then
			if [[ $verb == stop ]]; then
				_orchctl_words "--wait --wait-timeout $conn"
			else
				_orchctl_words "--output -o $conn"
			fi
		elif ((npos == 0)); then
			_orchctl_words "$(_orchctl_names list)"
		fi
		;;
	nodes)
		[[ $cur == -* ]] && _orchctl_words "--output -o $conn"
		;;
	node)
		if [[ -z $sub ]]; then
			_orchctl_words "get drain undrain"
		elif [[ $cur == -* ]]; then
			_orchctl_words "--output -o $conn"
		elif ((npos == 0)); then
			_orchctl_words "$(_orchctl_names nodes)"
		fi
		;;
	service)
		if [[ -z $sub ]]; then
			_orchctl_words "create ls get rm"
		elif [[ $sub == create ]]; then
			[[ $cur == -* ]] && _orchctl_words "$run_opts $conn"
		elif [[ $cur == -* ]]; then
			_orchctl_words "--output -o $conn"
		elif [[ $sub == get || $sub == rm ]] && ((npos == 0)); then
			_orchctl_words "$(_orchctl_names service ls)"
		fi
		;;
	scale)
		if [[ $cur == -* ]]; then
			_orchctl_words "$conn"
		elif ((npos == 0)); then
			_orchctl_words "$(_orchctl_names service ls)"
		fi
		;;
	events)
		[[ $cur == -* ]] && _orchctl_words "--since --output -o $conn"
		;;
	logs)
		if [[ $cur == -* ]]; then
			_orchctl_words "-f --follow --tail --stream $conn"
		elif ((npos == 0)); then
			_orchctl_words "$(_orchctl_names list)"
		fi
		;;
	help)
		((npos == 0)) && _orchctl_words "$verbs"
		;;
	esac
	return 0
}
complete -F _orchctl orchctl
