-- Cities and their regions, cased like the clients' cities so that the two join.
SELECT DISTINCT initcap(trim(g.nom)) AS Ville, g.region AS Region
FROM {{ source('Referentiel_Geo') }} g
