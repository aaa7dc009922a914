-- The calendar, the model's marked date table. Date_Complete is cast to DATE whatever the CSV reader
-- inferred (a file whose dates it could not recognise would otherwise give text), because time intelligence
-- (SAMEPERIODLASTYEAR, TOTALYTD, DATESINPERIOD) does date arithmetic on it.
SELECT
    t.ID_Date,
    CAST(t.Date_Complete AS DATE) AS Date_Complete,
    t.Annee,
    t.Trimestre,
    t.Mois,
    t.Mois_Nom,
    t.Semaine,
    t.Jour,
    t.Jour_Semaine,
    t.Est_Weekend,
    t.Est_Ferie,
    t.Saison_Commerciale
FROM {{ source('Dim_Temps') }} t
